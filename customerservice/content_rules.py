"""What a merchant reply may not contain (SPEC §7.2, 客户服务条例 2.2 and 2.3).

Pure functions over the reply's text and attached images; the feed, the back-office reply form and
the open API call `check_reply` (or `breaches`) and refuse the reply with the breach's rule.

One function per rule, each returning the first `Breach` in the text or None: `check_links`,
`check_email`, `check_bank_card`, `check_payment_account`, `check_qr_code` (images),
`check_store_address`, `check_abuse`. A breach names the rule (a stable code), the offending part
and where it is in the *original* text (`text[start:end] == part`), so a form can highlight it.

The text rules read a normalised view of the reply: NFKC (full-width letters, digits and
punctuation become ASCII: "ｗｗｗ．" is "www.") and without invisible format characters (zero-width
spaces and the like, a cheap way around a regular expression). Every character of the view
remembers the original character it came from, which is how offsets point into the original.

Every pattern is linear in the length of the text: possessive quantifiers and token boundaries
where a greedy run could otherwise be retried from every position (see the adversarial strings
in the tests and `bench/content_rules.py`).

Decided here (SPEC §7.2 is silent; each one is also in the README):
- links: also `name点com`, `name點com`, `name。com`, `name dot com`, `name(dot)com`, `name[dot]com`
  for the common top-level domains com, cn, net, org, where name is an ASCII label with a letter
  (or a number before 点com/点net: 163点com); a Chinese name (淘宝点com) is not read as a domain,
  since 点 also means "click" (点COM口). Links inside an allowed platform link are checked too
  (`…yangkeduo.com/x?url=https://evil.com`). A domain right after `x@` is an e-mail address.
- bank card: one run of digits, or groups in a card's shape (4-4-4-4 with a short last group,
  6 + 10..13, or one digit a group), one kind of separator, 16..19 digits, Luhn; digits glued to
  ASCII letters are an identifier (SF1234567890123456), never a card.
- payment account: the account is not a date, order, hotline or other hyphenated number, not a
  12..15 digit tracking number, not a carrier's tracking number (SF…, YT…), not a price, not a
  number the gap calls an order or waybill number (单号), and not an ordinary English word
  (data/ordinary_words.txt: "WeChat payment", "Alipay account").
- QR codes: QR, Micro QR and rMQR codes are refused whatever they hold (a platform link too);
  linear barcodes (a product's EAN-13) and other matrix codes pass. Every frame of an animated
  image is read. An attachment that is not a readable image raises `NotAnImage` (a ValueError),
  whatever the text says.
- store address: the store word and the street address in one sentence; a store word after a
  negation (没有实体店, 不支持到店) is not one; "15号" is a date, not a house number, unless an
  address word (路, 街, 里, 巷, …) stands before it or the number is over 31.
- abuse: the word list is data (data/abuse_words.txt) with allowed phrases (去死皮, 作废，物流).
"""

from __future__ import annotations

import bisect
import io
import re
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import zxingcpp
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageSequence

DATA = Path(__file__).resolve().parent / "data"
DEFAULT_PLATFORM_DOMAINS = ("pinduoduo.com", "yangkeduo.com")

# The order check_reply tries them in; breaches() lists them in this order too.
RULES = ("link", "email", "bank_card", "payment_account", "qr_code", "store_address", "abuse")
MESSAGES = {
    "link": _("A reply may not contain a link that leads off the platform."),
    "email": _("A reply may not contain an e-mail address."),
    "bank_card": _("A reply may not contain a bank card number."),
    "payment_account": _("A reply may not contain a payment account."),
    "qr_code": _("An image attached to a reply may not contain a QR code."),
    "store_address": _("A reply may not contain the address of a physical store."),
    "abuse": _("A reply may not contain insulting or threatening words."),
}

Attachment = bytes | bytearray | memoryview | IO[bytes]


@dataclass(frozen=True)
class Breach:
    """`rule` broken by `part`, which is `text[start:end]` of the reply as written. For a QR code
    `part` is what the code says, `attachment` the image's index (0-based) and start == end == 0."""

    rule: str
    part: str
    start: int
    end: int
    attachment: int | None = None

    @property
    def message(self):
        """What the person who wrote the reply is told (translatable)."""
        return MESSAGES[self.rule]


class NotAnImage(ValueError):
    """Attachment `index` (0-based) cannot be read as an image; the caller answers "attachment N
    is not an image"."""

    def __init__(self, index: int, reason: str):
        super().__init__(f"attachment {index + 1} is not an image: {reason}")
        self.index = index
        self.reason = reason

    @property
    def message(self) -> str:
        """For the person who attached it (the reason is for the log)."""
        return _("Attachment %(number)s is not an image.") % {"number": self.index + 1}


# --- the normalised view -----------------------------------------------------------------------

# Format characters (Unicode category Cf), variation selectors and the combining grapheme joiner:
# invisible, and a way to split a word that a pattern looks for.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufe00-\ufe0f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U00013438"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f\U000e0100-\U000e01ef]"
)
# Full-width ASCII and the ideographic space, the bulk of what NFKC changes in Chinese text (its
# commas and colons), mapped one to one: the offsets stay those of the original.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_FULL_WIDTH_RUN = re.compile("[\uff01-\uff5e\u3000]+")
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}
# What may stand between the characters of an abusive word: spaces, punctuation, symbols.
_SEPARATORS = re.compile(r"[\W_]+")


class _View:
    """The reply as the rules read it: `text` (NFKC, no invisible characters), `low` (the same
    with ASCII letters in lower case, offset for offset), and the way back to the original."""

    def __init__(self, original: str):
        self.original = original
        self.origin: list[int] | None = None  # origin[i]: index in original of text[i]; None: i
        text = original
        if not original.isascii():
            text = _FULL_WIDTH_RUN.sub(lambda run: run.group().translate(_FULL_WIDTH), original)
            if not unicodedata.is_normalized("NFKC", text) or _INVISIBLE.search(text):
                text = self._normalise(original)
        self.text = text
        low = text.lower()
        self.low = low if len(low) == len(text) else text.translate(_ASCII_LOWER)

    def _normalise(self, original: str) -> str:
        """Character by character, remembering where each output character came from."""
        chars: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(original):
            for out in unicodedata.normalize("NFKC", char):
                if not _INVISIBLE.match(out):
                    chars.append(out)
                    origin.append(index)
        self.origin = origin
        return "".join(chars)

    def breach(self, rule: str, start: int, end: int) -> Breach:
        if self.origin is not None:
            start, end = self.origin[start], self.origin[end - 1] + 1
        return Breach(rule, self.original[start:end], start, end)


# --- links -------------------------------------------------------------------------------------
# The patterns read the lower-case view and start with a literal or a character class, so that
# the regular expression engine skips in C to where a match can begin; a boundary that must hold
# before the first character is a look-behind after it.

_TLDS = "online|store|club|info|shop|site|com|net|org|top|xyz|vip|app|cn|cc|io|me|co|tv"
_SCHEME = re.compile(r"https?://")
_AUTHORITY = re.compile(r"[a-z0-9._~%!$&'()*+,;=:@\[\]-]*")
_URL_TAIL = re.compile(r"[a-z0-9._~%!$&'()*+,;=:@/?#\[\]\\-]*")
_HOST = re.compile(r"[a-z0-9-]++(?:\.[a-z0-9-]++)*")
_WWW = re.compile(r"www\.(?=[a-z0-9])")
# name.tld: not inside a longer host name (no label character, nor "label.", before it), not the
# domain of an e-mail address, and the top-level domain is the last label.
_BARE_DOMAIN = re.compile(
    r"[a-z0-9](?<![a-z0-9-][a-z0-9])(?<![a-z0-9-]\.[a-z0-9])(?<![a-z0-9._%+-]@[a-z0-9])"
    rf"[a-z0-9-]*+\.(?:[a-z0-9-]++\.)*(?:{_TLDS})(?![a-z0-9-])(?!\.[a-z0-9])"
)
_SPELLED_DOMAIN = re.compile(
    r"(?P<name>[a-z0-9](?<![a-z0-9-][a-z0-9])[a-z0-9-]*+)"
    r"(?P<dot>\s*+[点點]\s*+|。|\s*+[(\[{]\s*+dot\s*+[)\]}]\s*+|\s++dot\s++)"
    r"(?P<tld>com|net|org|cn)(?![a-z0-9-])"
)
_TRAILING = ".,;:!?)]}'\""


def _platform_domains(allowed_domains: Iterable[str] | None) -> tuple[str, ...]:
    domains = allowed_domains
    if domains is None:
        domains = getattr(settings, "PLATFORM_DOMAINS", DEFAULT_PLATFORM_DOMAINS)
    return tuple(d.strip().strip(".").lower() for d in domains if d.strip().strip("."))


def _is_platform(host: str, domains: tuple[str, ...]) -> bool:
    host = host.rstrip(".")
    return bool(host) and any(host == d or host.endswith("." + d) for d in domains)


def _inside_host_name(low: str, at: int) -> bool:
    """Whether low[at] continues a host name begun before it ("w" of "awww.", "b" of "a.b")."""
    label = "abcdefghijklmnopqrstuvwxyz0123456789-"
    return at > 0 and (low[at - 1] in label or (low[at - 1] == "." and at > 1 and low[at - 2] in label))


def _link_candidates(low: str, domains: tuple[str, ...]) -> Iterator[tuple[int, int]]:
    """(start, end) of each off-platform link, in no particular order."""
    for m in _SCHEME.finditer(low):
        authority = _AUTHORITY.match(low, m.end()).group()
        host = _HOST.match(authority.rsplit("@", 1)[-1])  # user@host: the host is after the @
        if not _is_platform(host.group() if host else "", domains):
            end = _URL_TAIL.match(low, m.end()).end()
            while end > m.end() and low[end - 1] in _TRAILING:
                end -= 1
            yield m.start(), end
    for m in _WWW.finditer(low):
        if not _inside_host_name(low, m.start()):
            host = _HOST.match(low, m.start())
            if not _is_platform(host.group(), domains):
                yield m.start(), host.end()
    for m in _BARE_DOMAIN.finditer(low):
        if not _is_platform(m.group(), domains):
            yield m.start(), m.end()
    for m in _SPELLED_DOMAIN.finditer(low):
        name, tld = m["name"], m["tld"]
        if not re.search("[a-z]", name) and not (m["dot"].strip() in "点點" and tld in ("com", "net")):
            continue  # 8点cn仓 is a time; 163点com is a domain
        if not _is_platform(f"{name}.{tld}", domains):
            yield m.start(), m.end()


def _links(view: _View, domains: tuple[str, ...]) -> Iterator[Breach]:
    covered = -1
    for start, neg_end in sorted((start, -end) for start, end in _link_candidates(view.low, domains)):
        end = -neg_end  # the longest of the links that start at the same place
        if start >= covered:  # a domain inside a link already reported is that link
            yield view.breach("link", start, end)
            covered = end


def check_links(text: str, *, allowed_domains: Iterable[str] | None = None) -> Breach | None:
    """A link that does not lead to the platform: http(s)://…, www.…, name.tld (SPEC's top-level
    domains), and name点com and the like (module docstring). `allowed_domains`: the platform's
    domains (default: the setting PLATFORM_DOMAINS); their subdomains are allowed too."""
    return next(_links(_View(text), _platform_domains(allowed_domains)), None)


# --- e-mail ------------------------------------------------------------------------------------

_EMAIL_DOMAIN = re.compile(r"@[a-z0-9-]++(?:\.[a-z0-9-]++)*\.[a-z]{2,}(?![a-z0-9-])")
_LOCAL_PART = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._%+-")


def _emails(view: _View) -> Iterator[Breach]:
    low = view.low
    for m in _EMAIL_DOMAIN.finditer(low):
        start = m.start()
        while start > 0 and low[start - 1] in _LOCAL_PART and m.start() - start < 64:
            start -= 1  # found from the @ back: a run of letters without one is never retried
        if start < m.start():
            yield view.breach("email", start, m.end())


def check_email(text: str) -> Breach | None:
    """An e-mail address (full-width ＠ and letters too)."""
    return next(_emails(_View(text)), None)


# --- bank card ---------------------------------------------------------------------------------

_HYPHENS = "-\u2010\u2011\u2012\u2013\u2212"
_DIGIT_GROUPS = re.compile(rf"[0-9](?<![0-9][0-9])[0-9]*+(?:[ {_HYPHENS}][0-9]++)*+")
_DIGITS = re.compile("[0-9]+")


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card_windows(groups: list[str]) -> Iterator[tuple[int, int]]:
    """(first, last) group index of each stretch shaped like a written card number: 4-digit groups
    with a last one of 1..4 digits, or a 6-digit group and a 10..13 digit one; and a whole run of
    one digit a group ("6 2 2 2 …")."""
    count = len(groups)
    for first in range(count):
        if len(groups[first]) == 6 and first + 1 < count and 10 <= len(groups[first + 1]) <= 13:
            yield first, first + 1
        if len(groups[first]) != 4:
            continue
        digits = 4
        for last in range(first + 1, count):
            digits += len(groups[last])
            if digits > 19 or len(groups[last]) > 4:
                break
            if digits >= 16:
                yield first, last
            if len(groups[last]) != 4:
                break
    if 16 <= count <= 19 and all(len(g) == 1 for g in groups):
        yield 0, count - 1


def _uniform_runs(text: str, numbers: list[tuple[int, int]]) -> Iterator[list[tuple[int, int]]]:
    """The groups split where the separator changes: in "2024-01-15 6222…" the date and the
    number after the space are two runs (sharing the group "15"), not one."""
    first = 0
    for i in range(2, len(numbers)):
        if text[numbers[i - 1][1] : numbers[i][0]] != text[numbers[i - 2][1] : numbers[i - 1][0]]:
            yield numbers[first:i]
            first = i - 1
    yield numbers[first:]


def _glued(text: str, at: int) -> bool:
    return 0 <= at < len(text) and text[at].isascii() and text[at].isalpha()


def _bank_cards(view: _View) -> Iterator[Breach]:
    text = view.text
    for m in _DIGIT_GROUPS.finditer(text):
        if m.end() - m.start() < 16:
            continue  # fewer than 16 digits: prices, dates, phone numbers
        numbers = [g.span() for g in _DIGITS.finditer(text, m.start(), m.end())]
        # Digits glued to letters are an identifier (SF1234567890123, a product code), not a card.
        if _glued(text, m.start() - 1):
            numbers = numbers[1:]
        if _glued(text, m.end()):
            numbers = numbers[:-1]
        found = [(s, e) for s, e in numbers if 16 <= e - s <= 19 and luhn_valid(text[s:e])]
        for run in _uniform_runs(text, numbers) if len(numbers) > 1 else ():
            groups = [text[s:e] for s, e in run]
            for first, last in _card_windows(groups):
                if luhn_valid("".join(groups[first : last + 1])):
                    found.append((run[first][0], run[last][1]))
        if found:
            yield view.breach("bank_card", *min(found))


def check_bank_card(text: str) -> Breach | None:
    """16..19 digits, in one run or in a card's groups split by single spaces or hyphens, that
    pass the Luhn check. Order numbers (231201-123456789012345: 6 + 15 digits), 15-digit tracking
    numbers and a hotline next to a mobile number are no card: their groups have no card's shape."""
    return next(_bank_cards(_View(text)), None)


# --- payment account ---------------------------------------------------------------------------

_PAYMENT_WORD = re.compile(r"支付宝|alipay|weixin|wechat|vx|微信|v信|收款")  # on the lower-case view
_ACCOUNT_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_MOBILE = re.compile(r"(?:86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9])")
_ACCOUNT_EMAIL = re.compile(r"[a-z0-9._%+-]++@[a-z0-9-]++(?:\.[a-z0-9-]++)*\.[a-z]{2,}(?![a-z0-9-])")
_TOKEN = re.compile(r"[A-Za-z0-9_-]{6,}+")
_TRACKING = re.compile(r"[A-Z]{1,4}[0-9]{10,}")
_PRICE_AFTER = re.compile(r"\s*(?:元|块|圆|rmb|yuan)|\.[0-9]")
_GAP = 4


def _ordinary_words() -> frozenset[str]:
    lines = (DATA / "ordinary_words.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip().lower() for w in lines if w.strip() and not w.lstrip().startswith("#"))


ORDINARY_WORDS = _ordinary_words()


def _not_an_account(token: str, view: _View, start: int, gap: str) -> bool:
    """The ordinary numbers and words that may follow a payment word (SPEC: order and tracking
    numbers, prices, dates and times, the hotline must pass)."""
    if set(token) <= set("0123456789-"):
        if "-" in token or 12 <= len(token) <= 15:
            return True  # a date, an order number, a hotline; a tracking number's length
        if "单" in gap:
            return True  # 订单号 / 运单号 / 单号: the number is the order's or the parcel's
        end = start + len(token)
        return bool(_PRICE_AFTER.match(view.low, end)) or (start > 0 and view.text[start - 1] in "¥$")
    if _TRACKING.fullmatch(token):
        return True  # SF1234567890123, YT1234567890123
    return token.isalpha() and token.lower() in ORDINARY_WORDS


def _account_at(view: _View, at: int, gap: str) -> int | None:
    """End of the account that starts at `at`, if one does."""
    m = _MOBILE.match(view.text, at) or _ACCOUNT_EMAIL.match(view.low, at)
    if m:
        return m.end()
    m = _TOKEN.match(view.text, at)
    if m and not _not_an_account(m.group(), view, at, gap):
        return m.end()
    return None


def _payment_accounts(view: _View) -> Iterator[Breach]:
    low = view.low
    for m in _PAYMENT_WORD.finditer(low):
        if m.group().isascii() and m.start() and "a" <= low[m.start() - 1] <= "z":
            continue  # inside an English word
        for gap in range(_GAP + 1):
            at = m.end() + gap
            if at >= len(low):
                break
            if gap and low[at - 1] in _ACCOUNT_CHARS:
                continue  # an account starts at a boundary; this one began earlier
            end = _account_at(view, at, low[m.end() : at])
            if end is not None:
                yield view.breach("payment_account", m.start(), end)
                break


def check_payment_account(text: str) -> Breach | None:
    """支付宝, alipay, 微信, weixin, wechat, vx, v信 or 收款, at most 4 other characters, then an
    account: a mobile number, an e-mail address or 6+ of [A-Za-z0-9_-]. The word alone
    (本店不接受微信转账) and the ordinary numbers (_not_an_account) are not an account."""
    return next(_payment_accounts(_View(text)), None)


# --- QR codes ----------------------------------------------------------------------------------

# What a reply's attachment may be; others (EPS runs Ghostscript, PSD, ICO, …) are not an image here.
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")  # JPEG covers MPO (phone cameras)
_QR_FORMATS = [zxingcpp.BarcodeFormat.QRCode, zxingcpp.BarcodeFormat.MicroQRCode, zxingcpp.BarcodeFormat.RMQRCode]


def _attachment_bytes(attachment: Attachment) -> bytes:
    if isinstance(attachment, (bytes, bytearray, memoryview)):
        return bytes(attachment)
    seekable = getattr(attachment, "seekable", lambda: False)()
    position = attachment.tell() if seekable else None
    data = attachment.read()
    if position is not None:
        attachment.seek(position)  # the caller still stores the file
    return data


def _grey(frame: Image.Image) -> Image.Image:
    """The frame on white, in grey levels: a transparent pixel is paper, not black ink."""
    if frame.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (frame.mode == "P" and "transparency" in frame.info):
        rgba = frame.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        paper.alpha_composite(rgba)
        return paper.convert("L")
    return frame.convert("L")


def read_image(attachment: Attachment, index: int = 0) -> list[Image.Image]:
    """Every frame of the attachment in grey levels, or NotAnImage."""
    try:
        data = _attachment_bytes(attachment)
    except (OSError, ValueError) as error:
        raise NotAnImage(index, f"cannot be read ({error})") from error
    if not data:
        raise NotAnImage(index, "the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                return [_grey(frame) for frame in ImageSequence.Iterator(image)]
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise NotAnImage(index, "the image is too large") from error
    except Exception as error:  # a malformed file makes Pillow raise almost anything
        raise NotAnImage(index, f"{type(error).__name__}: {error}") from error


def _qr_codes(images: Sequence[list[Image.Image]]) -> Iterator[Breach]:
    for index, frames in enumerate(images):
        for frame in frames:
            codes = zxingcpp.read_barcodes(frame, formats=_QR_FORMATS)
            if codes:
                yield Breach("qr_code", codes[0].text, 0, 0, attachment=index)
                break


def check_qr_code(images: Sequence[Attachment]) -> Breach | None:
    """A QR code (QR, Micro QR, rMQR) decoded in one of the images; NotAnImage for a file that is
    not an image."""
    return next(_qr_codes([read_image(image, index) for index, image in enumerate(images)]), None)


# --- physical store address --------------------------------------------------------------------

_STORE_WORD = re.compile(r"实体店|门店|线下店|到店|實體店|門店|線下店")
# 没有实体店, 不支持到店: a store word after a negation names no store.
_NEGATION = re.compile(
    r"(?:没有|沒有|无|無|暂无|暫無|不设|没|沒|非|不是|不支持|不提供|不能|无法|無法|不可|不用)\s*(?:线下|線下)?$"
)
_STREET = re.compile(r"[路街道]\s*+[0-9]++(?:\s*+号)?|(?<![0-9])(?P<number>[0-9]++)\s*+号")
_ADDRESS_BEFORE = frozenset("路街道巷弄里村区區镇鎮楼樓栋棟座院号號-")
_SENTENCE_END = re.compile(r"[。！？!?；;\n]")


def _house_number(text: str, m: re.Match) -> bool:
    """Whether "N号" is a house number, not a day of the month (门店15号开业, 11月11号)."""
    if m["number"] is None:
        return True
    before = text[max(0, m.start() - 8) : m.start()].rstrip()
    if before.endswith("月"):
        return False
    return int(m["number"]) > 31 or (bool(before) and before[-1] in _ADDRESS_BEFORE)


def _store_addresses(view: _View) -> Iterator[Breach]:
    text = view.text
    sentence_ends = None
    reported_until = -1
    for store in _STORE_WORD.finditer(text):
        if store.start() < reported_until or _NEGATION.search(text, max(0, store.start() - 6), store.start()):
            continue
        if sentence_ends is None:
            sentence_ends = [m.start() for m in _SENTENCE_END.finditer(text)] + [len(text)]
        after = bisect.bisect_left(sentence_ends, store.start())
        begin = sentence_ends[after - 1] + 1 if after else 0
        end = sentence_ends[after]
        street = next((m for m in _STREET.finditer(text, begin, end) if _house_number(text, m)), None)
        if street is not None:
            yield view.breach("store_address", min(store.start(), street.start()), max(store.end(), street.end()))
            reported_until = end


def check_store_address(text: str) -> Breach | None:
    """实体店, 门店, 线下店 or 到店 with a street address (N号, or 路/街/道 then a number) in the
    same sentence; a return address alone (no store word) passes."""
    return next(_store_addresses(_View(text)), None)


# --- abuse -------------------------------------------------------------------------------------


def _abuse_list() -> tuple[list[str], list[str], list[str]]:
    """(Chinese words, English words, allowed phrases) of data/abuse_words.txt, in lower case,
    Chinese ones and phrases without separators."""
    chinese, english, allowed = [], [], []
    for line in (DATA / "abuse_words.txt").read_text(encoding="utf-8").splitlines():
        word = unicodedata.normalize("NFKC", line.strip()).lower()
        if not word or word.startswith("#"):
            continue
        if word.startswith("!"):
            allowed.append(_SEPARATORS.sub("", word[1:]))
        elif word.isascii():
            english.append(" ".join(word.split()))
        else:
            chinese.append(_SEPARATORS.sub("", word))
    return chinese, english, allowed


def _chinese_pattern(words: list[str]) -> re.Pattern:
    """Each word with up to 8 separators between its characters ("傻 逼", "傻。逼")."""
    spelled = (r"[\W_]{0,8}+".join(re.escape(c) for c in word) for word in sorted(set(words), key=len, reverse=True))
    return re.compile("|".join(spelled))


def _english_pattern(words: list[str]) -> re.Pattern:
    """Each word as a whole word, written together (the words of a phrase may stand apart) or
    spelled out with separators between all its letters. Each branch starts with its first
    letter, the word boundary before it checked behind, so the engine skips to candidate letters."""
    by_first: dict[str, list[str]] = {}
    for word in sorted(set(words), key=len, reverse=True):
        parts = ["".join(c for c in part if c.isalnum()) for part in word.split()]
        letters = "".join(parts)
        together = r"[\W_]{0,3}".join(part for part in parts if part)
        spelled = r"[\W_]{1,3}".join(letters)
        by_first.setdefault(letters[0], []).extend([together[1:], spelled[1:]])
    branches = [f"{first}(?<![a-z].)(?:{'|'.join(rests)})" for first, rests in sorted(by_first.items())]
    return re.compile(f"(?:{'|'.join(branches)})(?![a-z])")


_CHINESE_WORDS, _ENGLISH_WORDS, ALLOWED_PHRASES = _abuse_list()
ABUSE_WORDS = tuple(_CHINESE_WORDS + _ENGLISH_WORDS)
_CHINESE_ABUSE = _chinese_pattern(_CHINESE_WORDS)
_ENGLISH_ABUSE = _english_pattern(_ENGLISH_WORDS)
# For each word, the allowed phrases it is part of and where in them it stands.
_ALLOWED_AROUND = {
    word: [(phrase, at) for phrase in ALLOWED_PHRASES for at in range(len(phrase)) if phrase.startswith(word, at)]
    for word in _CHINESE_WORDS
}
_PHRASE_REACH = 3 * max(map(len, ALLOWED_PHRASES), default=0)


def _in_allowed_phrase(low: str, m: re.Match) -> bool:
    """Whether the word found at m lies in an allowed phrase, separators left out (作废，物流)."""
    word = _SEPARATORS.sub("", m.group())
    around = _ALLOWED_AROUND.get(word)
    if not around:
        return False
    window = max(0, m.start() - _PHRASE_REACH)
    compact = _SEPARATORS.sub("", low[window : m.end() + _PHRASE_REACH])
    start = len(_SEPARATORS.sub("", low[window : m.start()]))
    return any(start >= at and compact.startswith(phrase, start - at) for phrase, at in around)


def _abuses(view: _View) -> Iterator[Breach]:
    low = view.low
    found = [m.span() for m in _ENGLISH_ABUSE.finditer(low)]
    at = 0
    while (m := _CHINESE_ABUSE.search(low, at)) is not None:
        if _in_allowed_phrase(low, m):
            at = m.start() + 1
            continue
        found.append(m.span())
        at = m.end()
    for start, end in sorted(found):
        yield view.breach("abuse", start, end)


def check_abuse(text: str) -> Breach | None:
    """A word of data/abuse_words.txt, also with spaces, punctuation or full-width forms between
    its characters."""
    return next(_abuses(_View(text)), None)


# --- the reply ---------------------------------------------------------------------------------


def _all(text: str, images: Sequence[Attachment], allowed_domains: Iterable[str] | None) -> Iterator[Breach]:
    # Every attachment is read first, so a file that is not an image is reported whatever the text.
    frames = [read_image(image, index) for index, image in enumerate(images)]
    view = _View(text)
    yield from _links(view, _platform_domains(allowed_domains))
    yield from _emails(view)
    yield from _bank_cards(view)
    yield from _payment_accounts(view)
    yield from _qr_codes(frames)
    yield from _store_addresses(view)
    yield from _abuses(view)


def check_reply(
    text: str, images: Sequence[Attachment] = (), *, allowed_domains: Iterable[str] | None = None
) -> Breach | None:
    """The first breach of SPEC §7.2, in the order of RULES (within a rule, the first in the
    text), or None when the reply may be sent. Raises NotAnImage (a ValueError) for an
    attachment that is not an image."""
    return next(_all(text, images, allowed_domains), None)


def breaches(
    text: str, images: Sequence[Attachment] = (), *, allowed_domains: Iterable[str] | None = None
) -> list[Breach]:
    """Every breach, in the order of RULES and within a rule in the order of the text."""
    return list(_all(text, images, allowed_domains))
