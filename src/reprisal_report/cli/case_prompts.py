"""Interactive case entry: one prompt per field, the draft saved after each answer.

Prompts go to stderr and answers come from stdin, so the flow can be driven by a test
and ``--json`` output on stdout stays clean. Every answer is validated by the model
(through ``save_draft``); a rejected answer is explained and asked again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.prompt import Confirm, Prompt
from rich.text import Text

from reprisal_report.cli.output import console
from reprisal_report.errors import Aborted, InvalidCase
from reprisal_report.model.vocabulary import load_vocabulary

if TYPE_CHECKING:
    from reprisal_report.vault.cases import CaseRow
    from reprisal_report.vault.store import Vault

END_OF_TEXT = "."


class _Session:
    def __init__(self, vault: Vault, org_id: str | None, existing: CaseRow | None) -> None:
        from reprisal_report.workflows import reporter

        self.reporter = reporter
        self.vault = vault
        self.org_id = org_id
        self.case_id: str | None = existing.id if existing else None
        self.defaults: dict[str, Any] = dict(existing.record) if existing else {}
        # An edit starts from the stored record, so an interruption loses nothing.
        self.record: dict[str, Any] = dict(existing.record) if existing else {}
        self.term = console(stderr=True)

    def say(self, text: str) -> None:
        self.term.print(Text(text), markup=False, highlight=False)

    def save(self) -> None:
        self.case_id = self.reporter.save_draft(self.vault, self.case_id, self.record, self.org_id)

    def ask_field(self, key: str, ask: Callable[[Any], Any], *, optional: bool = False) -> None:
        """Ask until the model accepts the answer, then save the draft."""
        while True:
            value = ask(self.defaults.get(key))
            if value in (None, "", []):
                if optional:
                    self.record.pop(key, None)
                    self.save()
                    return
                self.say(f"{key} is required")
                continue
            self.record[key] = value
            try:
                self.save()
                return
            except InvalidCase as exc:
                self.say(f"not accepted: {exc.message}")
                if exc.hint:
                    self.say(exc.hint)
                self.record.pop(key, None)

    def text(self, label: str, default: Any = None) -> str:
        return Prompt.ask(
            label,
            console=self.term,
            default=str(default) if default is not None else "",
            show_default=default is not None,
        ).strip()

    def choice(self, label: str, choices: tuple[str, ...], default: Any = None) -> str:
        question = f"{label} ({', '.join(choices)})"
        if default is None:
            return Prompt.ask(
                question, console=self.term, choices=list(choices), show_choices=False
            )
        return Prompt.ask(
            question,
            console=self.term,
            choices=list(choices),
            show_choices=False,
            default=str(default),
        )

    def long_text(self, label: str, default: Any = None) -> str:
        if default:
            keep = Confirm.ask(f"keep the current {label}?", console=self.term, default=True)
            if keep:
                return str(default)
        self.say(f"{label}: type the text; end with a line holding only '{END_OF_TEXT}'")
        lines: list[str] = []
        while True:
            line = input()
            if line == END_OF_TEXT:
                break
            lines.append(line)
        return "\n".join(lines).strip("\n")

    def items(
        self,
        key: str,
        label: str,
        ask_one: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        at_least_one: bool,
    ) -> None:
        current = self.defaults.get(key) or []
        if current and Confirm.ask(
            f"keep the {len(current)} existing {label} entr{'y' if len(current) == 1 else 'ies'}?",
            console=self.term,
            default=True,
        ):
            self.record[key] = list(current)
            self.save()
            return
        collected: list[dict[str, Any]] = []
        while True:
            if collected or not at_least_one:
                more = Confirm.ask(
                    f"add {'another' if collected else 'a'} {label}?",
                    console=self.term,
                    default=not collected and at_least_one,
                )
                if not more:
                    break
            entry = ask_one({})
            self.record[key] = [*collected, entry]
            try:
                self.save()
                collected.append(entry)
            except InvalidCase as exc:
                self.say(f"not accepted: {exc.message}")
                self.record[key] = list(collected)
                if not collected:
                    self.record.pop(key, None)
        if not collected:
            self.record.pop(key, None)


def prompt_case(vault: Vault, org_id: str | None, existing: CaseRow | None) -> str:
    """Run the prompts; return the case id. The draft survives an interruption."""
    vocab = load_vocabulary()
    s = _Session(vault, org_id, existing)
    try:
        s.ask_field("title", lambda d: s.text("title", d))
        s.ask_field(
            "incident_date", lambda d: s.text("incident date (YYYY, YYYY-MM or YYYY-MM-DD)", d)
        )
        s.ask_field("country", lambda d: s.text("country (ISO 3166 code, e.g. BI)", d).upper())
        s.ask_field(
            "location", lambda d: s.text("location (sensitive; empty to skip)", d), optional=True
        )

        def cooperation(_: dict[str, Any]) -> dict[str, Any]:
            entry = {
                "mechanism": s.choice("mechanism", vocab.mechanisms),
                "body": s.text("body (e.g. CAT, SR-HRD; empty to skip)"),
                "mode": s.choice("mode", vocab.modes),
                "date": s.text("date of the cooperation (empty to skip)"),
            }
            return {k: v for k, v in entry.items() if v}

        s.items("cooperation", "UN cooperation", cooperation, at_least_one=True)

        def acts(d: Any) -> list[str]:
            s.say("acts: " + ", ".join(vocab.acts))
            answer = s.text("acts (comma-separated)", ", ".join(d) if d else None)
            return [a.strip() for a in answer.split(",") if a.strip()]

        s.ask_field("acts", acts)

        def perpetrator(_: dict[str, Any]) -> dict[str, Any]:
            entry = {
                "type": s.choice("perpetrator type", vocab.perpetrator_types),
                "name": s.text("name (sensitive; empty to skip)"),
            }
            return {k: v for k, v in entry.items() if v}

        s.items("perpetrators", "perpetrator", perpetrator, at_least_one=False)

        def victim(_: dict[str, Any]) -> dict[str, Any]:
            name = s.text("victim name (sensitive; empty to skip)")
            aliases = s.text("aliases (sensitive; comma-separated, empty to skip)")
            entry: dict[str, Any] = {
                "name": name,
                "aliases": [a.strip() for a in aliases.split(",") if a.strip()],
                "kind": s.choice("kind", vocab.victim_kinds),
                "contact": s.text("contact (sensitive; empty to skip)"),
                "organisation": s.text("organisation (sensitive; empty to skip)"),
            }
            return {k: v for k, v in entry.items() if v}

        s.items("victims", "victim", victim, at_least_one=True)
        s.ask_field("narrative", lambda d: s.long_text("narrative (sensitive)", d), optional=True)
        s.ask_field("public_summary", lambda d: s.long_text("public summary", d), optional=True)
        s.ask_field("consent", lambda d: s.choice("consent", vocab.consent, d))
        s.ask_field("risk", lambda d: s.choice("risk", vocab.risk, d))
    except (EOFError, KeyboardInterrupt):
        s.term.print()  # end the unanswered prompt's line
        if s.case_id is None:
            raise Aborted("interrupted before the first answer; nothing was stored") from None
        raise Aborted(
            f"interrupted; the draft is saved as case {s.case_id}",
            hint=f"finish it with 'reprisal-report case edit {s.case_id}'",
        ) from None
    if s.case_id is None:  # pragma: no cover - title is required, so a draft exists
        raise Aborted("no case was created")
    s.reporter.complete_case(vault, s.case_id, s.record)
    return s.case_id
