"""Chinese first, so nothing English comes back (#18.3).

What is checked, over our own apps (the ones under BASE_DIR) and the project's templates:
- every entry of our zh_Hans catalogues is translated, not fuzzy, and keeps its placeholders;
- every entry is the translation served: Django merges the catalogues (LOCALE_PATHS first, then the
  apps in INSTALLED_APPS order, the first one winning, then Django's own), so a msgid two
  catalogues share is served from one of them only; a case's 售后类型 once read on the ledger, and
  Django admin's 过滤器 on the review queue's button, that way;
- every msgid in our code (gettext and friends over string literals) and templates ({% translate %},
  {% blocktranslate %}) is served in Chinese;
- no template text a person reads is outside {% translate %}/{% blocktranslate %}: text nodes and the
  visible attributes (title, placeholder, alt, aria-label, a button's value), outside <script> and
  <style>, with variables and tags taken out; a short allow-list below, each with its reason.
The checks are functions, and the last tests feed them a made-up catalogue, template and module to
prove each one fails on what it is there to catch.
"""

import ast
import re
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.template.base import Lexer, TokenType
from django.utils import translation
from django.utils.translation.template import templatize

pytestmark = pytest.mark.usefixtures("compiled_catalogues")

BASE = Path(settings.BASE_DIR)
LANGUAGE = "zh-hans"

# Words that stay as they are in the Chinese UI, each for a reason.
ALLOWED_WORDS = {
    "CSV",  # file formats, named as in every Chinese spreadsheet program
    "XLSX",
    "JSON",
    "API",  # the open API is called so in Chinese documentation too
    "pddadmin",  # the product's name
    "ID",  # 买家ID, 店铺ID: the platform's own Chinese usage
    "SLA",
    "QR",
}
# Served strings that are the same in both languages.
SAME_IN_CHINESE = {"CSV", "XLSX", "JSON", "API", "SLA", "ID", "%(value)s", "%(a)s / %(b)s"}
VISIBLE_ATTRIBUTES = {"title", "placeholder", "alt", "aria-label", "aria-description"}
GETTEXT_NAMES = {
    "_": (None, 0),
    "gettext": (None, 0),
    "gettext_lazy": (None, 0),
    "gettext_noop": (None, 0),
    "ngettext": (None, 0),
    "ngettext_lazy": (None, 0),
    "pgettext": (0, 1),
    "pgettext_lazy": (0, 1),
    "npgettext": (0, 1),
    "npgettext_lazy": (0, 1),
}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{(\w*)\}")


def our_apps():
    return [
        a for a in apps.get_app_configs() if Path(a.path).is_relative_to(BASE) and ".venv" not in Path(a.path).parts
    ]


def catalogues() -> list[Path]:
    """Ours, in the order Django serves them (the first listed wins)."""
    found = [Path(p) / "zh_Hans" / "LC_MESSAGES" / "django.po" for p in settings.LOCALE_PATHS]
    found += [Path(a.path) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po" for a in our_apps()]
    return [p for p in found if p.exists()]


def template_files() -> list[Path]:
    roots = [Path(d) for t in settings.TEMPLATES for d in t.get("DIRS", [])]
    roots += [Path(a.path) / "templates" for a in our_apps()]
    return sorted(p for root in roots if root.is_dir() for p in root.rglob("*.html"))


def python_files() -> list[Path]:
    files = []
    for app in our_apps():
        for path in Path(app.path).rglob("*.py"):
            if "migrations" not in path.parts and "tests" not in path.parts:
                files.append(path)
    return sorted(set(files))


# --- the checks ---------------------------------------------------------------------------------


def _placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text)}


def catalogue_problems(path: Path) -> list[str]:
    problems = []
    for entry in polib.pofile(str(path)):
        if entry.obsolete or not entry.msgid:
            continue
        where = f"{path.relative_to(BASE) if path.is_relative_to(BASE) else path}: {entry.msgid!r}"
        if "fuzzy" in entry.flags:
            problems.append(f"{where} is fuzzy")
        elif not entry.translated():
            problems.append(f"{where} has no translation")
        else:
            wanted = {m.group(0) for m in PLACEHOLDER.finditer(entry.msgid)}
            if entry.msgid_plural:
                # One Chinese form for every count: it may name the count the English singular leaves out.
                allowed = wanted | {m.group(0) for m in PLACEHOLDER.finditer(entry.msgid_plural)}
                broken = [t for t in entry.msgstr_plural.values() if not _placeholders(t) <= allowed]
            else:
                broken = [entry.msgstr] if _placeholders(entry.msgstr) != wanted else []
            for text in broken:
                problems.append(f"{where}: placeholders {sorted(_placeholders(text))} instead of {sorted(wanted)}")
    return problems


def served(context: str | None, msgid: str, plural: str | None = None) -> str:
    with translation.override(LANGUAGE):
        if plural:
            if context is not None:
                return translation.npgettext(context, msgid, plural, 1)
            return translation.ngettext(msgid, plural, 1)
        if context is not None:
            return translation.pgettext(context, msgid)
        return translation.gettext(msgid)


def served_problems(paths: list[Path]) -> list[str]:
    """Entries of our catalogues that are not what a page gets: another catalogue wins."""
    first: dict[tuple, tuple[Path, str]] = {}
    for path in paths:
        for e in polib.pofile(str(path)):
            if e.msgid and e.translated() and "fuzzy" not in e.flags:
                text = e.msgstr_plural[0] if e.msgid_plural else e.msgstr
                first.setdefault((e.msgctxt, e.msgid, e.msgid_plural or None), (path, text))
    problems = []
    for path in paths:
        for e in polib.pofile(str(path)):
            if not (e.msgid and e.translated()) or "fuzzy" in e.flags:
                continue
            key = (e.msgctxt, e.msgid, e.msgid_plural or None)
            winner, expected = first[key]
            text = e.msgstr_plural[0] if e.msgid_plural else e.msgstr
            got = served(*key)
            if got != expected:
                problems.append(f"{path.relative_to(BASE)}: {e.msgid!r} is served as {got!r}, not {expected!r}")
            elif text != expected:
                problems.append(
                    f"{path.relative_to(BASE)}: {e.msgid!r} says {text!r}, but {winner.relative_to(BASE)}'s "
                    f"{expected!r} is served (say it once, or give it a msgctxt)"
                )
    return problems


def python_msgids(source: str, name: str) -> list[tuple[str, tuple]]:
    found = []
    for node in ast.walk(ast.parse(source, name)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
        if func not in GETTEXT_NAMES:
            continue
        context_at, msgid_at = GETTEXT_NAMES[func]
        args = node.args
        if len(args) <= msgid_at or not all(
            isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args[: msgid_at + 1]
        ):
            continue
        context = args[context_at].value if context_at is not None else None
        plural = None
        if func.startswith(("ngettext", "npgettext")) and len(args) > msgid_at + 1:
            plural = args[msgid_at + 1].value if isinstance(args[msgid_at + 1], ast.Constant) else None
        found.append((f"{name}:{node.lineno}", (context, args[msgid_at].value, plural)))
    return found


_CALL = re.compile(r"\b(gettext|ngettext|pgettext|npgettext)\(((?:u?'(?:[^'\\]|\\.)*'(?:,\s*)?)+)")
_STRING = re.compile(r"u?('(?:[^'\\]|\\.)*')")


def template_msgids(source: str, name: str) -> list[tuple[str, tuple]]:
    found = []
    for match in _CALL.finditer(templatize(source)):
        strings = [ast.literal_eval(s) for s in _STRING.findall(match.group(2))]
        kind = match.group(1)
        if kind == "gettext":
            key = (None, strings[0], None)
        elif kind == "pgettext":
            key = (strings[0], strings[1], None)
        elif kind == "ngettext":
            key = (None, strings[0], strings[1])
        else:
            key = (strings[0], strings[1], strings[2])
        found.append((name, key))
    return found


def unserved_msgids(found: list[tuple[str, tuple]]) -> list[str]:
    problems = []
    for where, (context, msgid, plural) in found:
        if msgid in SAME_IN_CHINESE or not re.search("[A-Za-z]", msgid):
            continue
        if served(context, msgid, plural) == msgid:
            problems.append(f"{where}: {msgid!r} has no Chinese translation in any catalogue")
    return problems


class _Visible(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.hidden += 1
        attrs = dict(attrs)
        for name, value in attrs.items():
            if value and (name in VISIBLE_ATTRIBUTES or (name == "value" and attrs.get("type") in BUTTONS)):
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.texts.append(data)


BUTTONS = {"submit", "button", "reset"}
_MARK = " "  # where a tag or a variable was: no text of ours, and no word glued to its neighbours


def template_text_problems(source: str, name: str) -> list[str]:
    """Readable English in a template outside translation tags."""
    skeleton, skipping = [], None
    for token in Lexer(source).tokenize():
        content = token.contents.strip()
        word = content.split(" ", 1)[0] if token.token_type == TokenType.BLOCK else ""
        if skipping:
            if word == skipping:
                skipping = None
            skeleton.append(_MARK)
            continue
        if word in ("blocktranslate", "blocktrans", "comment", "verbatim"):
            skipping = "end" + word
        if token.token_type == TokenType.TEXT:
            skeleton.append(token.contents)
        else:
            skeleton.append(_MARK)
    parser = _Visible()
    parser.feed("".join(skeleton))
    parser.close()
    problems = []
    for text in parser.texts:
        words = [w for w in re.findall(r"[A-Za-z][A-Za-z'’-]*", text) if w not in ALLOWED_WORDS]
        if words:
            problems.append(f"{name}: {' '.join(text.split())!r}")
    return problems


# Apps whose models this test does not hold to Chinese labels yet, each with its reason.
FIELD_LABELS_EXEMPT = {
    "api": "its key and idempotency tables are read by developers in the API's English",
}


def field_label_problems(app_configs) -> list[str]:
    """Model and field names our admin pages show (column heads, labels, filters) that read in
    English: a foreign key without verbose_name is labelled with its attribute name, untranslated."""
    problems = []
    with translation.override(LANGUAGE):
        for app in app_configs:
            for model in app.get_models():
                names = [("", model._meta.verbose_name), ("", model._meta.verbose_name_plural)]
                names += [
                    (f.name, f.verbose_name)
                    for f in model._meta.get_fields()
                    if hasattr(f, "verbose_name") and not (f.auto_created and not f.concrete) and not f.primary_key
                ]
                for name, label in names:
                    words = [w for w in re.findall(r"[A-Za-z]{2,}", str(label)) if w not in ALLOWED_WORDS]
                    if words:
                        problems.append(f"{app.label}.{model.__name__}.{name}: {str(label)!r}")
    return problems


# --- the tests ----------------------------------------------------------------------------------


def test_every_catalogue_entry_is_translated():
    assert catalogues(), "no catalogue found"
    assert [p for path in catalogues() for p in catalogue_problems(path)] == []


def test_every_catalogue_entry_is_the_translation_served():
    assert served_problems(catalogues()) == []


def test_every_msgid_of_the_code_and_the_templates_is_served_in_chinese():
    found = []
    for path in python_files():
        found += python_msgids(path.read_text(encoding="utf-8"), str(path.relative_to(BASE)))
    for path in template_files():
        found += template_msgids(path.read_text(encoding="utf-8"), str(path.relative_to(BASE)))
    assert len(found) > 500  # the extraction finds them (a regex gone wrong would find none)
    assert unserved_msgids(found) == []


def test_every_model_and_field_label_reads_in_chinese():
    assert field_label_problems([a for a in our_apps() if a.label not in FIELD_LABELS_EXEMPT]) == []


def test_no_template_text_outside_translation_tags():
    files = template_files()
    assert len(files) > 20
    assert [p for path in files for p in template_text_problems(path.read_text(encoding="utf-8"), path.name)] == []


# --- the checks fail on what they catch ---------------------------------------------------------


def test_the_catalogue_check_fails_on_an_untranslated_a_fuzzy_and_a_broken_entry(tmp_path):
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    po.append(polib.POEntry(msgid="Refund", msgstr="退款"))
    po.append(polib.POEntry(msgid="Deliberately untranslated", msgstr=""))
    po.append(polib.POEntry(msgid="Guessed", msgstr="猜的", flags=["fuzzy"]))
    po.append(polib.POEntry(msgid="Case %(id)s", msgstr="售后单"))
    po.save(str(tmp_path / "django.po"))
    problems = catalogue_problems(tmp_path / "django.po")
    assert len(problems) == 3
    assert "'Deliberately untranslated' has no translation" in problems[0]
    assert "'Guessed' is fuzzy" in problems[1] and "placeholders" in problems[2]


def test_the_served_check_fails_on_a_msgid_another_catalogue_wins():
    # Django admin's own catalogue serves "Filter" (过滤器 there): ours says 筛选 and must win.
    fake = BASE / "var" / "test_translations_fake.po"
    fake.parent.mkdir(exist_ok=True)
    po = polib.POFile()
    po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    po.append(polib.POEntry(msgid="Save", msgstr="存起来"))  # Django admin serves 保存
    po.save(str(fake))
    try:
        problems = served_problems([fake])
    finally:
        fake.unlink()
    assert problems and "'Save' is served as '保存', not '存起来'" in problems[0]


def test_the_code_check_fails_on_a_msgid_no_catalogue_has():
    source = 'from django.utils.translation import gettext as _\nLABEL = _("A deliberately untranslated label")\n'
    found = python_msgids(source, "fake.py")
    found += template_msgids('{% load i18n %}<p>{% translate "Another untranslated one" %}</p>', "fake.html")
    assert [key for _where, key in found] == [
        (None, "A deliberately untranslated label", None),
        (None, "Another untranslated one", None),
    ]
    assert len(unserved_msgids(found)) == 2
    assert unserved_msgids(python_msgids('x = _("Filter")\n', "ok.py")) == []


def test_the_label_check_fails_on_a_foreign_key_without_a_label():
    # api's idempotency table is the one left (FIELD_LABELS_EXEMPT): the check names its key.
    problems = field_label_problems([apps.get_app_config("api")])
    assert "api.IdempotentRequest.api_key: 'api key'" in problems
    assert field_label_problems([apps.get_app_config("metrics")]) == []


def test_the_template_check_fails_on_text_outside_translation_tags():
    bad = (
        "{% load i18n %}<h1>Warranty payouts</h1>"
        '<input type="submit" value="Send"><img alt="QR code of the shop">'
        "<p>{{ shop.name }} Shop:</p>"
    )
    problems = template_text_problems(bad, "fake.html")
    assert [p.split(": ", 1)[1] for p in problems] == [
        "'Warranty payouts'",
        "'Send'",
        "'QR code of the shop'",
        "'Shop:'",
    ]
    good = (
        "{% load i18n %}<h1>{% translate 'Warranty payouts' %}</h1>"
        '<input type="submit" value="{% translate "Send" %}"><input type="hidden" name="action" value="explain">'
        "{% blocktranslate with n=count %}{{ n }} cases{% endblocktranslate %}{# a comment #}"
        "<script>const label = 'not for people';</script><p>CSV · XLSX · ¥100.00 {{ shop.platform_id }}</p>"
        '<a href="?export=csv" class="pdd-link">CSV</a>'
    )
    assert template_text_problems(good, "fake.html") == []


def test_compile_locale_compiles_a_catalogue_older_than_its_compiled_file(tmp_path, settings):
    """The compiled catalogue is the one served: a .po with an older time than its .mo (restored
    from an archive, copied with its times) is compiled all the same."""
    import os

    from django.core.management import call_command

    settings.LOCALE_PATHS = [tmp_path]
    folder = tmp_path / "zh_Hans" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po_path, mo_path = folder / "django.po", folder / "django.mo"

    def write(text: str) -> None:
        po = polib.POFile()
        po.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
        po.append(polib.POEntry(msgid="Filter", msgstr=text))
        po.save(str(po_path))

    write("旧的")
    call_command("compile_locale", verbosity=0)
    write("新的")
    os.utime(po_path, (1, 1))  # older than the .mo
    call_command("compile_locale", verbosity=0)
    assert [e.msgstr for e in polib.mofile(str(mo_path))] == ["新的"]
