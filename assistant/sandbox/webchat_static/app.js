// The sandbox web chat: be a demo resident and talk to the bot. API: assistant/sandbox/webchat.py.
// Message text is only ever put into the page as text nodes, never parsed as HTML.
"use strict";

const state = {
  people: [],
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

const complain = (error) => toast(`出错了 / Error: ${error.message}`, { alert: true });

// People -------------------------------------------------------------------------------------

function avatar(name) {
  let hue = 0;
  for (const char of name) hue = (hue * 31 + char.codePointAt(0)) % 360;
  const node = el("span", { class: "avatar", "aria-hidden": "true" }, [...name][0] || "?");
  node.style.background = `hsl(${hue} 55% 55%)`;
  return node;
}

function renderPeople() {
  const query = $("search").value.trim().toLowerCase();
  const groups = new Map();
  for (const person of state.people) {
    const haystack = `${person.name} ${person.key} ${person.label}`.toLowerCase();
    if (query && !haystack.includes(query)) continue;
    if (!groups.has(person.group)) groups.set(person.group, []);
    groups.get(person.group).push(person);
  }
  const sections = [...groups].map(([group, people]) =>
    el("section", {}, el("h2", {}, group), el("div", { class: "people" }, ...people.map(personButton))),
  );
  if (!sections.length) sections.push(el("p", { class: "muted" }, "没有找到 / Nobody found"));
  $("people").replaceChildren(...sections);
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
      el("span", { class: "name" }, person.name),
      el("span", { class: "muted small" }, person.label),
    ),
  );
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
  $("me-avatar").replaceWith(Object.assign(avatar(person.name), { id: "me-avatar" }));
  $("me-name").textContent = person.name;
  $("me-label").textContent = person.label;
  $("identity").hidden = $("chat-nav").hidden = $("chat").hidden = false;
  $("picker").hidden = true;
  renderChats();
  renderChat();
  // Everything is loaded once the stream says "ready", so no event falls between load and stream.
  state.events = new EventSource(`${userPath()}/events`);
  state.events.onmessage = (message) => receive(JSON.parse(message.data));
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
  $("search").focus();
}

// Chats --------------------------------------------------------------------------------------

const currentChat = () => state.chats.find((chat) => chat.id === state.chatId);

function chatSubtitle(chat) {
  if (chat.type === "private") return "机器人 / bot";
  return `群组 / group · ${chat.members} 位成员 / members`;
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
  $("chat-status").textContent = "正在输入… / typing…";
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
    box.replaceChildren(el("p", { class: "empty muted" }, "加载中… / Loading…"));
    return;
  }
  const messages = [...loaded.values()];
  if (!messages.length) {
    const hint =
      chat && chat.type === "private"
        ? "发送 /help 看看能做什么 / Send /help to see what you can do"
        : "还没有消息 / No messages yet";
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
        alt: "图片 / photo",
        width: size.width,
        height: size.height,
        "data-testid": "photo",
      }),
    );
  }
  if (message.document) {
    const name = message.document.file_name || "file";
    const href = fileUrl(message.document.file_id);
    bubble.append(el("a", { class: "document", href, download: name }, `📄 ${name}`));
  }
  const isText = message.text !== undefined;
  const text = isText ? message.text : message.caption;
  if (text) {
    const entities = (isText ? message.entities : message.caption_entities) || [];
    bubble.append(el("div", { class: "text", "data-testid": "message-text" }, formatText(text, entities)));
  }
  const edited = message.edit_date ? "已编辑 / edited · " : "";
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

function clock(date) {
  return new Date(date * 1000).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit" });
}

function quote(message) {
  const text = message.text ?? message.caption ?? (message.photo ? "图片 / photo" : "");
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
  const unsupported = "沙盒不支持这种按钮 / Not supported in the sandbox";
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
        title: "点击显示 / Click to reveal",
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
  menu.replaceChildren(...(items.length ? items : [el("p", { class: "muted" }, "暂无命令 / No commands yet")]));
  menu.hidden = false;
}

// Start --------------------------------------------------------------------------------------

async function start() {
  $("search").addEventListener("input", renderPeople);
  $("switch").addEventListener("click", showPicker);
  $("composer").addEventListener("submit", submit);
  $("photo").addEventListener("change", sendPhoto);
  $("menu").addEventListener("click", () => toggleCommands().catch(complain));
  $("toast").addEventListener("click", () => ($("toast").hidden = true));
  state.people = (await api("/api/people")).people;
  renderPeople();
  // A reload keeps being the same person (their key is in the address).
  const key = decodeURIComponent(location.hash.slice(1));
  const person = state.people.find((candidate) => candidate.key === key);
  if (person) await become(person);
}

start().catch(complain);
