"""``assistant check`` and ``assistant graph`` for conversations.

Beyond what loading checks (schema, expressions typed against the answers, names of providers,
checks and actions), this makes sure every template a conversation names exists in every language
and uses only the variables that the engine gives it.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import TemplateNotFound, TemplateSyntaxError, meta

from assistant.flows.spec import (
    Catalogue,
    Conversation,
    FlowError,
    FlowProblem,
    load_conversations,
    template_names,
)
from assistant.texts import Texts

# What the engine passes to each kind of template (``lang`` is always there). ``facts``: what the
# conversation's facts_from provides ({} without one); ``example``: for a date step, a day the step
# would take, to show how to type one (else None).
_VARIABLES = {
    "title": {"lang"},
    # ``options``: what a choice step offers now (empty for other steps).
    "ask": {"lang", "answers", "actor", "options", "facts", "example"},
    # ``limit``: what a named check names when it re-prompts (engine.Reprompt), else None.
    "problem": {"lang", "step", "limit", "facts", "example"},
    "summary": {"lang", "answers", "labels", "actor", "facts"},
}


def check_conversations(
    directory: Path, catalogue: Catalogue, texts: Texts
) -> tuple[dict[str, Conversation], list[FlowProblem]]:
    """Load every conversation and check its templates; returns what loaded and all problems."""
    try:
        conversations = load_conversations(directory, catalogue)
    except FlowError as exc:
        return {}, exc.problems
    problems: list[FlowProblem] = []
    for conversation in conversations.values():
        problems += _templates(conversation, texts)
    return conversations, problems


def _templates(conversation: Conversation, texts: Texts) -> list[FlowProblem]:
    problems: list[FlowProblem] = []
    for name, use, line, step_id in template_names(conversation):
        allowed = _VARIABLES[use]
        if conversation.facts_from is None:
            allowed = allowed - {"facts"}
        for language in texts.languages():
            path = f"{language}/{name}.j2"
            assert texts.env.loader is not None
            try:
                source = texts.env.loader.get_source(texts.env, path)[0]
                used = meta.find_undeclared_variables(texts.env.parse(source))
            except TemplateNotFound:
                problems.append(
                    FlowProblem(
                        conversation.file,
                        line,
                        step_id,
                        f"no template {path}",
                        f"create conversations/templates/{path}",
                    )
                )
                continue
            except TemplateSyntaxError as exc:
                problems.append(
                    FlowProblem(
                        conversation.file,
                        line,
                        step_id,
                        f"template {path}:{exc.lineno}: {exc.message}",
                    )
                )
                continue
            # The environment's globals (``ref``) are there for every template.
            unknown = sorted(used - allowed - set(texts.env.globals))
            if unknown:
                problems.append(
                    FlowProblem(
                        conversation.file,
                        line,
                        step_id,
                        f"template {path} uses {', '.join(unknown)}",
                        "available: " + ", ".join(sorted(allowed)),
                    )
                )
    return problems


def mermaid(conversation: Conversation) -> str:
    """The conversation as a Mermaid flowchart: steps in order, skips dashed, back and cancel."""
    nodes = ["start", *(step.id for step in conversation.steps), "confirm"]
    lines = [
        "flowchart TD",
        f'    start(["{"/" + conversation.command if conversation.command else conversation.id}"])',
    ]
    for step in conversation.steps:
        optional = ", optional" if step.optional else ""
        lines.append(f'    {step.id}["{step.id} ({step.kind}{optional})"]')
    lines.append('    confirm{"summary"}')
    lines.append(f'    done(["{conversation.submit}"])')
    lines.append('    cancelled(["cancelled"])')
    for index, node in enumerate(nodes[:-1]):
        lines.append(f"    {node} --> {nodes[index + 1]}")
    for index, step in enumerate(conversation.steps, start=1):
        if step.skip_if is not None:
            condition = step.skip_if.text.replace('"', "'")
            lines.append(f'    {nodes[index - 1]} -. "skip if {condition}" .-> {nodes[index + 1]}')
    lines.append("    confirm -- submit --> done")
    lines.append("    confirm -- cancel --> cancelled")
    if conversation.steps:
        lines.append(f"    confirm -- back --> {conversation.steps[-1].id}")
    return "\n".join(lines) + "\n"
