"""Bench: the SPEC §7.2 check of a 2,000-character merchant reply (issue 15, point 3).

Run: `.venv/bin/python -m bench.content_rules [N]`. No database: the rules are pure functions.
Builds N (default 1,000) different replies of 2,000 characters from ordinary customer-service
sentences (order and tracking numbers, prices, dates and times, the hotline, a return address, a
platform link, some English), each checked to break no rule; then the same replies with an
abusive word as their last characters (abuse is the last rule, so every rule reads the whole
reply before it is found) and with an off-platform link at the end. Each reply is timed alone
with `check_reply`; the figure is the median over the N replies. Also the adversarial strings of
the tests (`"a" * 2000`, `"1 " * 1000`, `"微信" * 1000`, …), the best of 3 runs each.
Target: median under 2 ms a reply; adversarial strings well under 50 ms.
"""

import os
import random
import re
import statistics
import sys
import time
import unicodedata

TARGET_MS = 2.0
ADVERSARIAL_LIMIT_MS = 50.0
LENGTH = 2000
FLOOR_PATTERN = re.compile(r"\x00\x01")
SENTENCES = [
    "亲，您好！您的订单{order}已于{date} {time}发货，快递单号{tracking}，请注意查收。",
    "这款商品原价¥{price}，现在活动价{price2}元，满{n}件再减{m}元，非常划算哦。",
    "如有质量问题，请在收到货后{n}天内联系我们，客服热线400-820-8820，或者拨打138{mobile}。",
    "退货地址：浙江省杭州市西湖区文三路 {house} 号，收件人王先生，请在包裹内备注订单号后6位。",
    "我们会在48小时内处理您的售后申请，退款将原路返回，预计1-{n}个工作日到账。",
    "本店不接受微信转账，请通过平台下单付款，谢谢您的理解与支持！",
    "商品链接 https://mobile.yangkeduo.com/goods.html?goods_id={goods} 可以直接购买。",
    "Thank you for your order {order}, we will ship it within {n} days.",
    "尺码S/M/L/XL都有现货，颜色有黑色、白色、灰色三种，身高{height}cm建议选L码。",
    "您好，您反馈的问题我们已经记录，{date}之前会给您回复，请耐心等待。",
    "这款是正品行货，支持全国联保，保修期{n}年，发票随货寄出。",
    "已为您补发，新的快递单号是 YT{digits13}，预计{month}月{day}日送达。",
]


def sentence(rng: random.Random) -> str:
    return rng.choice(SENTENCES).format(
        order=f"{rng.randrange(230101, 241231)}-{rng.randrange(10**14, 10**15)}",
        date=f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        time=f"{rng.randrange(24):02d}:{rng.randrange(60):02d}",
        tracking=f"SF{rng.randrange(10**12, 10**13)}",
        price=f"{rng.randrange(10, 999)}.{rng.randrange(100):02d}",
        price2=f"{rng.randrange(10, 999)}.{rng.randrange(10)}",
        n=rng.randrange(2, 9),
        m=rng.randrange(5, 50),
        mobile=f"{rng.randrange(10**8):08d}",
        house=rng.randrange(1, 300),
        goods=rng.randrange(10**8, 10**9),
        height=rng.randrange(150, 190),
        digits13=rng.randrange(10**12, 10**13),
        month=rng.randrange(1, 13),
        day=rng.randrange(1, 29),
    )


def reply(rng: random.Random) -> str:
    """Whole sentences while they fit, then a closing phrase cut to exactly LENGTH characters (a
    link or a number cut in half would be another reply)."""
    text = ""
    while len(text + (next_one := sentence(rng))) <= LENGTH:
        text += next_one
    return (text + "感谢您的支持，祝您生活愉快！" * 40)[:LENGTH]


def timed(check, texts: list[str]) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds of each check (CPU: this thread's, so waiting for a core on a
    shared machine shows in the wall figure only)."""
    for text in texts[:20]:
        check(text)  # warm-up
    wall, cpu = [], []
    for text in texts:
        started, started_cpu = time.perf_counter(), time.thread_time()
        check(text)
        cpu.append((time.thread_time() - started_cpu) * 1000)
        wall.append((time.perf_counter() - started) * 1000)
    return wall, cpu


def floor(text: str) -> None:
    """The least any check of the rules must do: normalise the reply once and read every character
    of it once in C (one compiled pattern that matches nowhere in ordinary text)."""
    FLOOR_PATTERN.search(unicodedata.normalize("NFKC", text))


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94]


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pddadmin.settings")
    import django

    django.setup()
    from bench.common import header, load_average, write_result
    from customerservice.content_rules import breaches, check_reply

    n = next((int(arg) for arg in sys.argv[1:] if arg.isdigit()), 1000)
    rng = random.Random(15)
    clean = [reply(rng) for _ in range(n)]
    problems = [(i, b) for i, text in enumerate(clean) for b in breaches(text)]
    assert not problems, f"an ordinary reply breaks a rule: {problems[:3]}"
    abusive = [text[: LENGTH - 4] + "你个傻逼" for text in clean]
    linked = [text[: LENGTH - 12] + "www.evil.com" for text in clean]
    assert all(check_reply(t).rule == "abuse" for t in abusive) and all(check_reply(t).rule == "link" for t in linked)

    load = load_average()
    rows = []
    for label, check, texts in (
        ("no breach (`check_reply`: every rule reads the whole reply)", check_reply, clean),
        ("no breach, `breaches` (every breach, no early stop)", breaches, clean),
        ("abusive word at the end (the last rule in order)", check_reply, abusive),
        ("off-platform link at the end (the first rule in order)", check_reply, linked),
    ):
        wall, cpu = timed(check, texts)
        rows.append((label, statistics.median(wall), p95(wall), max(wall), statistics.median(cpu), p95(cpu)))
    floor_wall, floor_cpu = timed(floor, clean)
    floor_cpu_median = statistics.median(floor_cpu)

    adversarial = {
        '`"a" * 2000`': "a" * 2000,
        '`"1 " * 1000`': "1 " * 1000,
        '`"微信" * 1000`': "微信" * 1000,
        '`"a." * 1000`': "a." * 1000,
        '`"1234 " * 400`': "1234 " * 400,
        '`"收款1 " * 400`': "收款1 " * 400,
        '`"a点" * 1000`': "a点" * 1000,
        '`"傻 " * 1000`': "傻 " * 1000,
    }
    worst = {}
    for label, text in adversarial.items():
        worst[label] = min(timed(breaches, [text, text, text])[0])

    slowest_median = max(row[1] for row in rows)
    slowest_adversarial = max(worst.values())
    passed = slowest_median < TARGET_MS and slowest_adversarial < ADVERSARIAL_LIMIT_MS
    lines = [
        header(
            "Content rules: one 2,000-character reply (issue 15, point 3)",
            command=f".venv/bin/python -m bench.content_rules {n}",
            data=f"{n:,} different replies of {LENGTH:,} characters built from ordinary customer-service sentences "
            "(order and tracking numbers, prices, dates and times, the hotline, a return address, a platform link, "
            "English), each checked to break no rule; then the same replies ending in an abusive word, and in a link. "
            "No database. Each reply timed alone (wall: `time.perf_counter`; CPU: `time.thread_time`), after 20 "
            "warm-up checks.",
            started_load=load,
        ),
        "| replies | median ms | p95 ms | max ms | CPU median ms | CPU p95 ms |\n|---|---:|---:|---:|---:|---:|\n",
        *(
            f"| {label} | {row[0]:.3f} | {row[1]:.3f} | {row[2]:.3f} | {row[3]:.3f} | {row[4]:.3f} |\n"
            for label, *row in rows
        ),
        f"| floor: NFKC of the reply and one compiled pattern reading it once | {statistics.median(floor_wall):.3f} "
        f"| {p95(floor_wall):.3f} | {max(floor_wall):.3f} | {floor_cpu_median:.3f} | {p95(floor_cpu):.3f} |\n",
        "\nRatio to the floor (CPU medians): "
        + ", ".join(f"{label.split(' (')[0]} {row[3] / floor_cpu_median:.1f}×" for label, *row in rows)
        + " (eight rules, each reading the reply, against one read).\n",
        "\nThe wall p95 and max follow the machine's load (the replies slower than 2 ms are not the same ones from "
        "one run to the next); the CPU columns are the check's own cost.\n",
        "\nAdversarial strings of 2,000 characters (`breaches`, best of 3):\n\n| text | ms |\n|---|---:|\n",
        *(f"| {label} | {ms:.2f} |\n" for label, ms in worst.items()),
        f"\n**{'PASS' if passed else 'FAIL'}**: slowest median {slowest_median:.3f} ms against the {TARGET_MS:g} ms "
        f"target; slowest adversarial string {slowest_adversarial:.2f} ms against {ADVERSARIAL_LIMIT_MS:g} ms.\n\n",
        "Why it stays fast: every pattern is compiled once at import and starts with a literal or a character "
        "class, so the regular expression engine skips in C to where a match can begin (a boundary that must "
        "hold before the first character is a look-behind after it); runs use possessive quantifiers, so no "
        "run is retried from each of its positions; the text is normalised once per reply (full-width runs "
        "translated one to one; NFKC character by character only when something else needs it), and the "
        "abuse check reads separators inside its patterns instead of building a compacted copy.\n",
    ]
    path = write_result("content_rules.md", "".join(lines))
    print(f"content_rules: {'PASS' if passed else 'FAIL'}, slowest median {slowest_median:.3f} ms; wrote {path}")


if __name__ == "__main__":
    main()
