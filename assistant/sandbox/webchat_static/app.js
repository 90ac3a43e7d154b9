// The sandbox web chat: be a demo resident and talk to the bot. API: assistant/sandbox/webchat.py.
// Message text is only ever put into the page as text nodes, never parsed as HTML.
"use strict";

// The page's own words; what the bot says comes from the bot, in the language it keeps for each
// person. t() fills in the {names} in braces.
const TEXTS = {
  "zh-CN": {
    otherLanguage: "English",
    switchLanguage: "Switch the page to English",
    brand: "社区助手 · 沙盒",
    brandNote: "模拟的 Telegram，放心试",
    sidebarNote: "选好一个人后，这里会列出他的对话：和机器人的私聊，还有他所在楼层的群。",
    close: "关闭",
    actingAs: "您现在是",
    switchPerson: "换一个人",
    switchShort: "换人",
    chats: "对话",
    pickTitle: "选一个人来扮演",
    pickIntro:
      "这里是演示校园：学生、层长、辅导员……每个人都已经加好了机器人。选一个人，就能用他的身份和机器人聊天，和在 Telegram 里一样；换个人，就能看到他收到了什么。",
    botLanguage: "",
    tryTitle: "试试这些",
    everyone: "所有人",
    searchPlaceholder: "搜索姓名、学号、角色、楼栋、楼层、社区",
    searchHint: "例如：辅导员、层长、1号楼3层、第一社区、2023010001",
    found: "找到 {n} 人",
    nobody: "没有找到。试试姓名、学号、“层长”或“1号楼3层”。",
    "try.report": "以学生身份上报问题",
    "try.report.hint": "发送 /report，回答机器人的几个问题；问题会交给负责的层长或楼长。",
    "try.approve": "以辅导员身份审批",
    "try.approve.hint": "学生用 /book 预约党团活动室后，辅导员发送 /pending 查看并审批。",
    "try.broadcast": "向一个楼层发通知",
    "try.broadcast.hint": "以辅导员身份发送 /broadcast，选“楼层”和哪一层，再写通知。",
    openChat: "打开对话",
    ready: "已经替您填好了 {command}，按“发送”开始。",
    bot: "机器人",
    groupMembers: "群组 · {n} 位成员",
    typing: "正在输入…",
    loading: "加载中…",
    emptyPrivate: "发送 /help 看看能做什么",
    emptyGroup: "还没有消息",
    writeMessage: "输入消息…",
    send: "发送",
    commands: "命令",
    sendPhoto: "发送图片",
    noCommands: "暂无命令",
    error: "出错了：",
    edited: "已编辑",
    photo: "图片",
    file: "文件",
    download: "下载",
    unsupported: "沙盒不支持这种按钮",
    reveal: "点击显示",
  },
  en: {
    otherLanguage: "中文",
    switchLanguage: "切换到中文",
    brand: "Community Assistant · sandbox",
    brandNote: "A pretend Telegram: try anything",
    sidebarNote:
      "Once you pick someone, their chats are listed here: the private chat with the bot, and their floor's group.",
    close: "Close",
    actingAs: "You are",
    switchPerson: "Be someone else",
    switchShort: "Switch person",
    chats: "Chats",
    pickTitle: "Pick someone to be",
    pickIntro:
      "This is the demo campus: students, floor leaders, counsellors… everyone has already added the bot. Pick someone to chat with the bot as them, just as in Telegram; pick someone else to see what reached them.",
    botLanguage: "The bot speaks Chinese to everyone at first: send /lang to switch it to English.",
    tryTitle: "Try this",
    everyone: "Everyone",
    searchPlaceholder: "Search name, number, role, building, floor, community",
    searchHint: "e.g. counsellor, floor leader, Building 1 floor 3, Community 1, 2023010001",
    found: "{n} found",
    nobody: "Nobody found. Try a name, a number, “floor leader” or “Building 1 floor 3”.",
    "try.report": "Report a problem as a student",
    "try.report.hint":
      "Send /report and answer the bot's few questions; the report goes to the floor or building leader in charge.",
    "try.approve": "Approve as a counsellor",
    "try.approve.hint":
      "Once a student books the activity room with /book, send /pending to see it and approve it.",
    "try.broadcast": "Send a notice to a floor",
    "try.broadcast.hint":
      "As a counsellor, send /broadcast, choose “A floor” and which one, then write the notice.",
    openChat: "Open chat",
    ready: "{command} is typed in for you: press Send to start.",
    bot: "bot",
    groupMembers: "group · {n} members",
    typing: "typing…",
    loading: "Loading…",
    emptyPrivate: "Send /help to see what you can do",
    emptyGroup: "No messages yet",
    writeMessage: "Write a message…",
    send: "Send",
    commands: "Commands",
    sendPhoto: "Send a photo",
    noCommands: "No commands yet",
    error: "Error: ",
    edited: "edited",
    photo: "photo",
    file: "file",
    download: "Download",
    unsupported: "Not supported in the sandbox",
    reveal: "Click to reveal",
  },
};

const state = {
  lang: pageLanguage(),
  people: [],
  suggestions: [],
  ready: null, // the command a "try this" put in the message box, until it is sent
  person: null, // the SandboxPerson being acted as
  me: null, // their Telegram User
  chats: [],
  chatId: null,
  loaded: new Map(), // chat id -> Map(message id -> Message), for chats opened so far
  unread: new Map(), // chat id -> count
  events: null, // the EventSource
  loading: 0, // loads under way; events wait in `buffered` until none is left
  buffered: [],
};

const $ = (id) => document.getElementById(id);

// Languages ----------------------------------------------------------------------------------

// The one chosen with the switch, else the first of the browser's that the page speaks.
function pageLanguage() {
  const chosen = localStorage.getItem("language");
  if (chosen in TEXTS) return chosen;
  for (const tag of navigator.languages || [navigator.language]) {
    if (/^zh\b/i.test(tag)) return "zh-CN";
    if (/^en\b/i.test(tag)) return "en";
  }
  return "zh-CN";
}

function t(key, values = {}) {
  return TEXTS[state.lang][key].replace(/\{(\w+)\}/g, (_, name) => String(values[name]));
}

// A text the server gives in both languages.
const pick = (words) => (state.lang === "en" ? words.en : words.zh);

function applyLanguage() {
  document.documentElement.lang = state.lang;
  document.title = t("brand");
  for (const node of document.querySelectorAll("[data-i18n]")) {
    node.textContent = t(node.dataset.i18n);
  }
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  }
  for (const node of document.querySelectorAll("[data-i18n-label]")) {
    node.title = t(node.dataset.i18nLabel);
    node.setAttribute("aria-label", node.title);
  }
  const other = state.lang === "en" ? "zh-CN" : "en";
  Object.assign($("language"), { textContent: t("otherLanguage"), title: t("switchLanguage") });
  $("language").lang = other;
  $("bot-language").hidden = !t("botLanguage");
}

function switchLanguage() {
  state.lang = state.lang === "en" ? "zh-CN" : "en";
  localStorage.setItem("language", state.lang);
  applyLanguage();
  renderTries();
  renderPeople();
  if (state.person) {
    showIdentity();
    renderChats();
    renderChat();
    showReady(state.ready);
    $("command-menu").hidden = true;
  }
}

// Builds an element; children may be nodes or strings (which become text nodes).
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

function post(path, data) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(data),
  });
}

const userPath = () => `/api/users/${state.me.id}`;
const chatPath = (chatId = state.chatId) => `${userPath()}/chats/${chatId}`;

// Toasts -------------------------------------------------------------------------------------

let toastTimer = null;

function toast(text, { alert = false } = {}) {
  const box = $("toast");
  box.textContent = text;
  box.classList.toggle("alert", alert);
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), alert ? 6000 : 2500);
}

const complain = (error) => toast(`${t("error")}${error.message}`, { alert: true });

// People -------------------------------------------------------------------------------------

function avatar(name) {
  let hue = 0;
  for (const char of name) hue = (hue * 31 + char.codePointAt(0)) % 360;
  const node = el("span", { class: "avatar", "aria-hidden": "true" }, [...name][0] || "?");
  node.style.background = `hsl(${hue} 55% 45%)`;
  return node;
}

// Search ignores case, spaces and the separators between a place's parts, so "1号楼 3层" finds
// "1号楼3层" and "building 1, floor 3" finds "Building 1 floor 3".
const compact = (text) => text.toLowerCase().replace(/[\s,，、·;；/()（）]+/g, "");

function haystack(person) {
  const words = [person.group, person.label, person.home].flatMap((w) => [w.zh, w.en]);
  return compact([person.name, person.key, ...words, person.terms].join("|"));
}

// A word that starts with a digit must start a number too: "3层" is not found in "13层", nor
// "301" in a student number.
function holds(hay, word) {
  if (!/^\d/.test(word)) return hay.includes(word);
  for (let at = hay.indexOf(word); at !== -1; at = hay.indexOf(word, at + 1)) {
    if (at === 0 || !/\d/.test(hay[at - 1])) return true;
  }
  return false;
}

// The whole query as one phrase, or else every word of it somewhere; a number stays with the
// English word before it, so "building 1 floor 3" asks for "building1" and "floor3".
function matches(person, query) {
  const hay = haystack(person);
  const words = [];
  for (const word of query.split(/\s+/).map(compact).filter(Boolean)) {
    if (/^\d+$/.test(word) && /[a-z]$/.test(words.at(-1) ?? "")) words.push(words.pop() + word);
    else words.push(word);
  }
  return holds(hay, compact(query)) || words.every((word) => holds(hay, word));
}

function renderPeople() {
  const query = $("search").value.trim();
  const groups = new Map();
  let found = 0;
  for (const person of state.people) {
    if (query && !matches(person, query)) continue;
    found++;
    const group = pick(person.group);
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(person);
  }
  const sections = [...groups].map(([group, people]) =>
    el(
      "section",
      {},
      el("h3", {}, group),
      el("div", { class: "people" }, ...people.map(personButton)),
    ),
  );
  const hint = !query ? t("searchHint") : found ? t("found", { n: found }) : t("nobody");
  $("search-hint").textContent = hint;
  // While searching, the results come right under the search box.
  $("tries").hidden = Boolean(query) || !$("try-list").childElementCount;
  $("everyone").hidden = Boolean(query);
  $("people").replaceChildren(...sections);
}

function personLines(person) {
  return [
    el("span", { class: "small" }, pick(person.label)),
    el("span", { class: "muted small", "data-testid": "home" }, pick(person.home)),
  ];
}

function personButton(person) {
  const onclick = () => become(person).catch(complain);
  return el(
    "button",
    { type: "button", class: "person", "data-testid": `person-${person.key}`, onclick },
    avatar(person.name),
    el(
      "span",
      { class: "person-text" },
      el(
        "span",
        {},
        el("span", { class: "name" }, person.name),
        " ",
        el("span", { class: "muted small" }, person.key),
      ),
      ...personLines(person),
    ),
  );
}

// The first things to try, each opening the chat of the one best placed to try it with the
// command ready in the message box: sending it stays the reader's own step.
function renderTries() {
  const tiles = [];
  for (const suggestion of state.suggestions) {
    const person = state.people.find((candidate) => candidate.key === suggestion.key);
    // Only what the page has words for, as someone the picker lists.
    if (!person || !(`try.${suggestion.kind}` in TEXTS[state.lang])) continue;
    const onclick = () => tryOut(person, suggestion.command).catch(complain);
    tiles.push(
      el(
        "button",
        { type: "button", class: "try", "data-testid": `try-${suggestion.kind}`, onclick },
        el("span", { class: "try-title" }, t(`try.${suggestion.kind}`)),
        el(
          "span",
          { class: "try-person" },
          avatar(person.name),
          el(
            "span",
            { class: "person-text" },
            el("span", { class: "name" }, person.name),
            personLines(person)[0],
          ),
        ),
        el("span", { class: "muted small" }, t(`try.${suggestion.kind}.hint`)),
        el(
          "span",
          { class: "try-open" },
          `${t("openChat")} · `,
          el("code", {}, suggestion.command),
          " ›",
        ),
      ),
    );
  }
  $("try-list").replaceChildren(...tiles);
}

async function tryOut(person, command) {
  await become(person);
  $("text").value = command;
  showReady(command);
  $("text").focus();
}

// Says that a command waits in the message box for the reader to send (null: nothing does).
function showReady(command) {
  state.ready = command;
  $("ready-hint").hidden = !command;
  if (command) $("ready-hint").textContent = t("ready", { command });
}

async function become(person) {
  const path = `/api/people/${encodeURIComponent(person.key)}/become`;
  const { user, chats } = await api(path, { method: "POST" });
  closeEvents();
  Object.assign(state, { person, me: user, chats, chatId: user.id });
  state.buffered.length = 0;
  state.loaded.clear();
  state.unread.clear();
  history.replaceState(null, "", `#${encodeURIComponent(person.key)}`);
  showIdentity();
  $("identity").hidden = $("chat-nav").hidden = $("chat").hidden = false;
  $("picker").hidden = true;
  $("app").classList.add("acting");
  $("sidebar-note").hidden = true;
  closeDrawer();
  $("text").value = "";
  showReady(null);
  renderChats();
  renderChat();
  // Everything is loaded once the stream says "ready", so no event falls between load and stream.
  state.events = new EventSource(`${userPath()}/events`);
  state.events.onmessage = (message) => receive(JSON.parse(message.data));
}

function showIdentity() {
  const { person } = state;
  $("me-avatar").replaceWith(Object.assign(avatar(person.name), { id: "me-avatar" }));
  $("me-name").textContent = $("acting-name").textContent = person.name;
  $("me-label").textContent = $("acting-label").textContent = pick(person.label);
  $("me-home").textContent = pick(person.home);
}

function closeEvents() {
  if (state.events) state.events.close();
  state.events = null;
}

function showPicker() {
  closeEvents();
  state.me = state.person = null;
  history.replaceState(null, "", location.pathname);
  $("identity").hidden = $("chat-nav").hidden = $("chat").hidden = true;
  $("picker").hidden = false;
  $("app").classList.remove("acting");
  $("sidebar-note").hidden = false;
  closeDrawer();
  $("search").focus();
}

// On a phone the chat list is a panel over the chat, opened from the chat's header.
function openDrawer() {
  $("app").classList.add("drawer-open");
}

function closeDrawer() {
  $("app").classList.remove("drawer-open");
}

// Chats --------------------------------------------------------------------------------------

const currentChat = () => state.chats.find((chat) => chat.id === state.chatId);

function chatSubtitle(chat) {
  if (chat.type === "private") return t("bot");
  return t("groupMembers", { n: chat.members });
}

function renderChats() {
  $("chat-list").replaceChildren(
    ...state.chats.map((chat) => {
      const unread = state.unread.get(chat.id) || 0;
      return el(
        "li",
        {},
        el(
          "button",
          {
            type: "button",
            class: `chat-item${chat.id === state.chatId ? " active" : ""}`,
            "data-testid": `chat-${chat.id}`,
            onclick: () => openChat(chat.id).catch(complain),
          },
          avatar(chat.title || "?"),
          el(
            "span",
            { class: "chat-text" },
            el("span", { class: "name" }, chat.title),
            el("span", { class: "muted small" }, chatSubtitle(chat)),
          ),
          unread ? el("span", { class: "badge", "data-testid": "unread" }, String(unread)) : null,
        ),
      );
    }),
  );
  const total = [...state.unread.values()].reduce((sum, count) => sum + count, 0);
  Object.assign($("unread-total"), { hidden: !total, textContent: String(total) });
}

async function refresh() {
  await buffering(async () => {
    state.chats = (await api(`${userPath()}/chats`)).chats;
    if (!currentChat()) state.chatId = state.me.id;
    state.loaded.clear();
    await loadMessages(state.chatId);
  });
  renderChats();
  renderChat();
}

async function openChat(chatId) {
  state.chatId = chatId;
  state.unread.delete(chatId);
  $("command-menu").hidden = true;
  showReady(null);
  closeDrawer();
  renderChats();
  renderChat();
  if (!state.loaded.has(chatId)) {
    await buffering(() => loadMessages(chatId));
    renderChat();
  }
  $("text").focus();
}

async function loadMessages(chatId) {
  const { messages } = await api(`${chatPath(chatId)}/messages`);
  state.loaded.set(chatId, new Map(messages.map((message) => [message.message_id, message])));
}

// Events that come while loading are replayed after it, in order: each carries a message's
// whole state, so the replay leaves every message as it is now, whenever the load was answered.
async function buffering(load) {
  state.loading++;
  try {
    await load();
  } finally {
    state.loading--;
    if (!state.loading) state.buffered.splice(0).forEach(receive);
  }
}

// Live events --------------------------------------------------------------------------------

let typingTimer = null;

function receive(event) {
  if (event.type === "ready") {
    refresh().catch(complain);
    return;
  }
  if (state.loading) {
    state.buffered.push(event);
    return;
  }
  switch (event.type) {
    case "message":
    case "edit":
      if (!state.chats.some((chat) => chat.id === event.chat_id)) {
        // Someone added this person to a group since the list was loaded.
        api(`${userPath()}/chats`)
          .then(({ chats }) => ((state.chats = chats), renderChats()))
          .catch(complain);
      }
      store(event.chat_id, event.message, event.type === "message");
      break;
    case "delete":
      state.loaded.get(event.chat_id)?.delete(event.message_id);
      if (event.chat_id === state.chatId) {
        document.querySelector(messageSelector(event.message_id))?.remove();
      }
      break;
    case "chat_action":
      if (event.chat_id === state.chatId) showTyping();
      break;
    case "callback_answer":
      if (event.text) toast(event.text, { alert: event.show_alert });
      break;
  }
}

function store(chatId, message, isNew) {
  if (message.from.is_bot && chatId === state.chatId) hideTyping();
  state.loaded.get(chatId)?.set(message.message_id, message);
  if (chatId === state.chatId) {
    placeMessage(message);
  } else if (isNew && message.from.id !== state.me.id) {
    state.unread.set(chatId, (state.unread.get(chatId) || 0) + 1);
    renderChats();
  }
}

function showTyping() {
  $("chat-status").textContent = t("typing");
  clearTimeout(typingTimer);
  // Telegram shows a chat action for five seconds or until the next message.
  typingTimer = setTimeout(hideTyping, 5000);
}

function hideTyping() {
  clearTimeout(typingTimer);
  const chat = currentChat();
  $("chat-status").textContent = chat ? chatSubtitle(chat) : "";
}

// Messages -----------------------------------------------------------------------------------

const messageSelector = (messageId) => `#messages [data-message-id="${messageId}"]`;

function renderChat() {
  const chat = currentChat();
  $("chat-title").textContent = chat ? chat.title : "";
  hideTyping();
  const box = $("messages");
  const loaded = state.loaded.get(state.chatId);
  if (!loaded) {
    box.replaceChildren(el("p", { class: "empty muted" }, t("loading")));
    return;
  }
  const messages = [...loaded.values()];
  if (!messages.length) {
    const hint = chat && chat.type === "private" ? t("emptyPrivate") : t("emptyGroup");
    box.replaceChildren(el("p", { class: "empty muted" }, hint));
    return;
  }
  box.replaceChildren(...messages.map(messageNode));
  box.scrollTop = box.scrollHeight;
}

// An edit replaces the message's node where it stands; a new message goes at the bottom.
function placeMessage(message) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  const node = messageNode(message);
  const old = document.querySelector(messageSelector(message.message_id));
  if (old) {
    old.replaceWith(node);
  } else {
    box.querySelector(".empty")?.remove();
    box.append(node);
  }
  if (atBottom || message.from.id === state.me.id) box.scrollTop = box.scrollHeight;
}

function fullName(user) {
  return [user.first_name, user.last_name].filter(Boolean).join(" ");
}

function messageNode(message) {
  const mine = message.from.id === state.me.id;
  const from = message.from.is_bot ? "bot" : mine ? "me" : "other";
  const bubble = el("div", { class: "bubble" });
  if (message.chat.type !== "private" && !mine) {
    bubble.append(el("div", { class: "sender" }, fullName(message.from)));
  }
  if (message.reply_to_message) bubble.append(quote(message.reply_to_message));
  if (message.photo) {
    const size = message.photo[message.photo.length - 1];
    bubble.append(
      el("img", {
        class: "photo",
        src: fileUrl(size.file_id),
        alt: t("photo"),
        width: size.width,
        height: size.height,
        "data-testid": "photo",
      }),
    );
  }
  if (message.document) bubble.append(documentCard(message.document));
  const isText = message.text !== undefined;
  const text = isText ? message.text : message.caption;
  if (text) {
    const entities = (isText ? message.entities : message.caption_entities) || [];
    bubble.append(el("div", { class: "text", "data-testid": "message-text" }, formatText(text, entities)));
  }
  const edited = message.edit_date ? `${t("edited")} · ` : "";
  bubble.append(el("div", { class: "meta" }, edited, clock(message.date)));
  return el(
    "div",
    {
      class: `message ${from}`,
      "data-testid": "message",
      "data-message-id": message.message_id,
      "data-from": from,
    },
    bubble,
    keyboard(message),
  );
}

const fileUrl = (fileId) => `/api/files/${encodeURIComponent(fileId)}`;

// A document as Telegram shows one: its kind's icon, its name, its size; a click downloads it
// under its name (the server says so too, for a download started any other way).
function documentCard(doc) {
  const name = doc.file_name || t("file");
  const size = doc.file_size === undefined ? [] : [fileSize(doc.file_size), " · "];
  return el(
    "a",
    { class: "document", href: fileUrl(doc.file_id), download: name, title: name, "data-testid": "document" },
    el("span", { class: "document-icon", "aria-hidden": "true" }, documentIcon(name)),
    el(
      "span",
      { class: "document-text" },
      el("span", { class: "document-name", "data-testid": "document-name" }, name),
      el("span", { class: "document-size", "data-testid": "document-size" }, ...size, t("download")),
    ),
  );
}

function documentIcon(name) {
  const extension = name.includes(".") ? name.split(".").pop().toLowerCase() : "";
  if (extension === "ics") return "📅";
  if (["xlsx", "xls", "csv", "ods"].includes(extension)) return "📊";
  return "📄";
}

// Sizes in Telegram's units: 512 B, 1.2 KB, 3.4 MB (of 1024).
function fileSize(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 || value >= 100 ? Math.round(value) : Number(value.toFixed(1));
  return `${shown} ${units[unit]}`;
}

function clock(date) {
  return new Date(date * 1000).toLocaleTimeString(state.lang, { hour: "2-digit", minute: "2-digit" });
}

function quote(message) {
  const text =
    message.text ??
    message.caption ??
    (message.photo ? t("photo") : message.document ? message.document.file_name || t("file") : "");
  return el("div", { class: "quote" }, el("div", { class: "sender" }, fullName(message.from)), text);
}

function keyboard(message) {
  const rows = message.reply_markup?.inline_keyboard;
  if (!rows) return null;
  return el(
    "div",
    { class: "keyboard" },
    ...rows.map((row) =>
      el("div", { class: "keyboard-row" }, ...row.map((button) => keyboardButton(message, button))),
    ),
  );
}

function keyboardButton(message, button) {
  const attrs = { class: "key", "data-testid": "button" };
  const url = button.url && safeUrl(button.url);
  if (url) {
    return el("a", { ...attrs, href: url, target: "_blank", rel: "noopener noreferrer" }, `${button.text} ↗`);
  }
  if (button.callback_data !== undefined) {
    const onclick = (event) => press(event.currentTarget, message, button.callback_data);
    return el("button", { ...attrs, type: "button", onclick }, button.text);
  }
  const unsupported = t("unsupported");
  return el("button", { ...attrs, type: "button", disabled: true, title: unsupported }, button.text);
}

async function press(node, message, callbackData) {
  node.disabled = true;
  try {
    await post(`${chatPath(message.chat.id)}/presses`, {
      message_id: message.message_id,
      callback_data: callbackData,
    });
  } catch (error) {
    complain(error);
  } finally {
    node.disabled = false;
  }
}

// Entities -----------------------------------------------------------------------------------

const SAFE_SCHEMES = new Set(["http:", "https:", "mailto:", "tel:", "tg:"]);

function safeUrl(url) {
  try {
    const parsed = new URL(url, location.href);
    return SAFE_SCHEMES.has(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

// Offsets are in UTF-16 code units, as JavaScript strings count; Telegram nests entities without
// overlaps, so sorting by offset, then by length (longest first) puts parents before children.
function formatText(text, entities) {
  const sorted = [...entities].sort((a, b) => a.offset - b.offset || b.length - a.length);
  const fragment = document.createDocumentFragment();
  appendRange(fragment, text, 0, text.length, sorted);
  return fragment;
}

function appendRange(parent, text, start, end, entities) {
  let position = start;
  let index = 0;
  while (index < entities.length) {
    const entity = entities[index];
    const entityEnd = entity.offset + entity.length;
    let next = index + 1;
    while (next < entities.length && entities[next].offset < entityEnd) next++;
    if (entity.offset > position) parent.append(text.slice(position, entity.offset));
    const node = entityNode(entity, text.slice(entity.offset, entityEnd));
    appendRange(node, text, entity.offset, entityEnd, entities.slice(index + 1, next));
    parent.append(node);
    position = entityEnd;
    index = next;
  }
  if (position < end) parent.append(text.slice(position, end));
}

function entityNode(entity, content) {
  const link = (href) =>
    href ? el("a", { href, target: "_blank", rel: "noopener noreferrer" }) : el("span");
  switch (entity.type) {
    case "bold":
      return el("strong");
    case "italic":
      return el("em");
    case "underline":
      return el("u");
    case "strikethrough":
      return el("s");
    case "code":
      return el("code");
    case "pre":
      return el("pre");
    case "blockquote":
    case "expandable_blockquote":
      return el("blockquote");
    case "spoiler":
      return el("span", {
        class: "spoiler",
        title: t("reveal"),
        onclick: (event) => event.currentTarget.classList.add("revealed"),
      });
    case "text_link":
      return link(safeUrl(entity.url));
    case "url":
      return link(safeUrl(/^[a-z][a-z0-9+.-]*:/i.test(content) ? content : `http://${content}`));
    case "email":
      return link(safeUrl(`mailto:${content}`));
    case "phone_number":
      return link(safeUrl(`tel:${content}`));
    case "bot_command":
      // As in Telegram, tapping a command sends it.
      return el("a", {
        href: "#",
        class: "command",
        onclick: (event) => (event.preventDefault(), send(content).catch(complain)),
      });
    case "mention":
    case "text_mention":
    case "hashtag":
    case "cashtag":
      return el("span", { class: "mention" });
    default:
      return el("span");
  }
}

// Sending ------------------------------------------------------------------------------------

async function send(text) {
  await post(`${chatPath()}/messages`, { text });
}

async function submit(event) {
  event.preventDefault();
  const input = $("text");
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  showReady(null);
  try {
    await send(text);
  } catch (error) {
    input.value = text;
    complain(error);
  }
}

async function sendPhoto() {
  const input = $("photo");
  const [file] = input.files;
  input.value = "";
  if (!file) return;
  const form = new FormData();
  form.append("photo", file);
  // Whatever is in the composer goes along as the caption, as in Telegram.
  const caption = $("text").value;
  if (caption.trim()) form.append("caption", caption);
  try {
    await api(`${chatPath()}/photos`, { method: "POST", body: form });
    $("text").value = "";
  } catch (error) {
    complain(error);
  }
}

async function toggleCommands() {
  const menu = $("command-menu");
  if (!menu.hidden) {
    menu.hidden = true;
    return;
  }
  const { commands } = await api(`${chatPath()}/commands`);
  const items = commands.map(({ command, description }) =>
    el(
      "button",
      {
        type: "button",
        class: "command-item",
        onclick: () => ((menu.hidden = true), send(`/${command}`).catch(complain)),
      },
      el("span", { class: "command" }, `/${command}`),
      el("span", { class: "muted" }, description),
    ),
  );
  menu.replaceChildren(...(items.length ? items : [el("p", { class: "muted" }, t("noCommands"))]));
  menu.hidden = false;
}

// Start --------------------------------------------------------------------------------------

async function start() {
  applyLanguage();
  $("language").addEventListener("click", switchLanguage);
  $("search").addEventListener("input", renderPeople);
  $("switch").addEventListener("click", showPicker);
  $("acting-switch").addEventListener("click", showPicker);
  $("open-chats").addEventListener("click", openDrawer);
  $("close-chats").addEventListener("click", closeDrawer);
  $("composer").addEventListener("submit", submit);
  $("photo").addEventListener("change", sendPhoto);
  $("menu").addEventListener("click", () => toggleCommands().catch(complain));
  $("toast").addEventListener("click", () => ($("toast").hidden = true));
  Object.assign(state, await api("/api/people"));
  renderTries();
  renderPeople();
  // A reload keeps being the same person (their key is in the address).
  const key = decodeURIComponent(location.hash.slice(1));
  const person = state.people.find((candidate) => candidate.key === key);
  if (person) await become(person);
}

start().catch(complain);
