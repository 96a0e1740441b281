"""SPEC §7.2: what a merchant reply may not contain, and the ordinary replies that must pass.

Each refused example names the rule it breaks and the part a form would highlight; each ordinary
one must break no rule at all. Images are made here: a photo-like picture (gradient, noise,
shapes) with or without a QR code from segno pasted into a corner.
"""

import io
import random
import time

import pytest
import segno
import zxingcpp
from django.utils import translation
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter

from customerservice import content_rules as rules
from customerservice.content_rules import Breach, NotAnImage, breaches, check_reply

ZWSP = "\u200b"  # zero-width space

# (text, rule, part): the reply is refused for `rule`, and `part` is what breaks it.
REFUSED = [
    # links
    pytest.param("请访问 https://evil.com/pay 付款", "link", "https://evil.com/pay", id="link-https"),
    pytest.param("HTTP://EVIL.CN/活动", "link", "HTTP://EVIL.CN/", id="link-http-upper-case"),
    pytest.param("官网 www.taobao.com 更便宜", "link", "www.taobao.com", id="link-www"),
    pytest.param("加我 taobao.com 有优惠", "link", "taobao.com", id="link-bare-domain"),
    pytest.param("去 ｔａｏｂａｏ．ｃｏｍ 下单", "link", "ｔａｏｂａｏ．ｃｏｍ", id="link-full-width"),
    pytest.param("搜索 taobao点com 领券", "link", "taobao点com", id="link-dian-com"),
    pytest.param("搜索 jd 點 com", "link", "jd 點 com", id="link-traditional-dian-spaces"),
    pytest.param("Buy it cheaper at deals dot com", "link", "deals dot com", id="link-dot-com"),
    pytest.param("Visit our shop: BestDeals.Shop today", "link", "BestDeals.Shop", id="link-tld-shop"),
    pytest.param(
        "打开 https://yangkeduo.com@evil.com/x", "link", "https://yangkeduo.com@evil.com/x", id="link-userinfo"
    ),
    pytest.param(
        "https://mobile.yangkeduo.com/jump?url=https://evil.shop/x", "link", "https://evil.shop/x", id="link-nested"
    ),
    pytest.param("yangkeduo.com.evil.com 有惊喜", "link", "yangkeduo.com.evil.com", id="link-platform-name-prefix"),
    pytest.param(f"www.ba{ZWSP}idu.com", "link", f"www.ba{ZWSP}idu.com", id="link-zero-width-space"),
    # e-mail
    pytest.param("请发邮件到 service@shop-abc.com 联系", "email", "service@shop-abc.com", id="email-plain"),
    pytest.param("邮箱：ａｂｃ＠ｑｑ．ｃｏｍ", "email", "ａｂｃ＠ｑｑ．ｃｏｍ", id="email-full-width"),
    pytest.param("Email me: John.Smith+vip@gmail.com", "email", "John.Smith+vip@gmail.com", id="email-plus"),
    pytest.param("售后邮箱：kefu_01@163.com，24小时回复", "email", "kefu_01@163.com", id="email-chinese-context"),
    pytest.param("发到 ABC@COMPANY.DE 即可", "email", "ABC@COMPANY.DE", id="email-other-tld"),
    pytest.param("alipay: pay@shop.cn", "email", "pay@shop.cn", id="email-before-payment-account"),
    # bank card
    pytest.param("退款打到卡号 6222 0200 1234 5671", "bank_card", "6222 0200 1234 5671", id="card-spaces"),
    pytest.param("卡号6222020012345671", "bank_card", "6222020012345671", id="card-one-run"),
    pytest.param("转到 6228-4800-1234-5678-911 就行", "bank_card", "6228-4800-1234-5678-911", id="card-19-hyphens"),
    pytest.param(
        "卡号：６２２２０２００１２３４５６７１", "bank_card", "６２２２０２００１２３４５６７１", id="card-full-width"
    ),
    pytest.param(
        "6 2 2 2 0 2 0 0 1 2 3 4 5 6 7 1", "bank_card", "6 2 2 2 0 2 0 0 1 2 3 4 5 6 7 1", id="card-digit-by-digit"
    ),
    pytest.param("卡 622848 0012345678911", "bank_card", "622848 0012345678911", id="card-bin-first"),
    pytest.param("Visa 4111 1111 1111 1111 please", "bank_card", "4111 1111 1111 1111", id="card-visa"),
    pytest.param("金额100 6222 0200 1234 5671", "bank_card", "6222 0200 1234 5671", id="card-after-amount"),
    # payment account
    pytest.param("加微信 shop_abc123 有优惠", "payment_account", "微信 shop_abc123", id="pay-wechat-id"),
    pytest.param("微信号：abc123456", "payment_account", "微信号：abc123456", id="pay-wechat-number"),
    pytest.param("支付宝账号 13812345678", "payment_account", "支付宝账号 13812345678", id="pay-alipay-mobile"),
    pytest.param("vx: wxid_12345", "payment_account", "vx: wxid_12345", id="pay-vx"),
    pytest.param(
        "ＷｅＣｈａｔ：ＳｈｏｐＡＢＣ", "payment_account", "ＷｅＣｈａｔ：ＳｈｏｐＡＢＣ", id="pay-full-width"
    ),
    pytest.param("V信 138-1234-5678", "payment_account", "V信 138-1234-5678", id="pay-v-xin-mobile-hyphens"),
    pytest.param("收款 abcdef12", "payment_account", "收款 abcdef12", id="pay-shoukuan"),
    pytest.param("alipay123456", "payment_account", "alipay123456", id="pay-glued"),
    # physical store address
    pytest.param(
        "欢迎到店体验，地址：杭州市西湖区文三路90号",
        "store_address",
        "到店体验，地址：杭州市西湖区文三路90号",
        id="store-daodian",
    ),
    pytest.param("我们门店在南京东路100号", "store_address", "门店在南京东路100号", id="store-mendian"),
    pytest.param(
        "实体店地址：上海市黄浦区南京东路 300 号",
        "store_address",
        "实体店地址：上海市黄浦区南京东路 300 号",
        id="store-spaces",
    ),
    pytest.param("线下店就在人民路8号，欢迎光临", "store_address", "线下店就在人民路8号", id="store-xianxia"),
    pytest.param("门店：中山路１２号", "store_address", "门店：中山路１２号", id="store-full-width-number"),
    pytest.param("北京路 66 号是我们的实体店", "store_address", "路 66 号是我们的实体店", id="store-address-first"),
    pytest.param("可以到店自提：幸福里15号", "store_address", "到店自提：幸福里15号", id="store-small-house-number"),
    # abuse
    pytest.param("你个傻逼", "abuse", "傻逼", id="abuse-plain"),
    pytest.param("傻 逼", "abuse", "傻 逼", id="abuse-space"),
    pytest.param("滚。蛋！", "abuse", "滚。蛋", id="abuse-punctuation"),
    pytest.param("白\u3000痴", "abuse", "白\u3000痴", id="abuse-full-width-space"),
    pytest.param("脑＊残", "abuse", "脑＊残", id="abuse-full-width-star"),
    pytest.param("去 死 吧", "abuse", "去 死", id="abuse-threat-spaced"),
    pytest.param(f"混{ZWSP}蛋", "abuse", f"混{ZWSP}蛋", id="abuse-zero-width"),
    pytest.param("你这个废物，物流都查不到", "abuse", "废物", id="abuse-before-wuliu"),
    pytest.param("你是傻B吗", "abuse", "傻B", id="abuse-letter"),
    pytest.param("you idiot", "abuse", "idiot", id="abuse-english"),
    pytest.param("F.U.C.K off", "abuse", "F.U.C.K", id="abuse-english-spelled"),
    pytest.param("Ｓｃｒｅｗ ｙｏｕ", "abuse", "Ｓｃｒｅｗ ｙｏｕ", id="abuse-english-full-width"),
]

# Ordinary replies: they must break no rule (a false refusal is a defect).
ORDINARY = [
    pytest.param("您的订单231201-123456789012345已发货，请注意查收。", id="order-number"),
    pytest.param("订单 231201-123456789012345、231202-987654321098765 已合并发货", id="two-order-numbers"),
    pytest.param("快递单号 SF1234567890123，请注意查收", id="tracking-sf"),
    pytest.param("圆通单号YT1234567890123", id="tracking-yt"),
    pytest.param("申通快递 773012345678901", id="tracking-digits"),
    pytest.param("2024-01-15 773012345678901", id="date-then-tracking"),
    pytest.param("原价¥59.90，活动价59.9元", id="prices"),
    pytest.param("满 2 件减 10 元，到手价 ￥99，订单金额 1,299.00 元", id="more-prices"),
    pytest.param("发货时间 2024-01-15 10:30", id="date-time"),
    pytest.param("预计 1月18日 下午3点前送达，11月11号有活动", id="dates-in-words"),
    pytest.param("客服热线 400-820-8820，手机 13812345678", id="hotline-and-mobile"),
    pytest.param("客服电话400-820-8820 13812345678", id="hotline-next-to-mobile"),
    pytest.param("13812345678 310012", id="mobile-and-postcode"),
    pytest.param("退货地址：浙江省杭州市西湖区文三路 90 号，张先生收", id="return-address"),
    pytest.param("本店没有实体店，退货地址：浙江省杭州市西湖区文三路 90 号", id="no-store-and-return-address"),
    pytest.param("本店不接受微信转账，请在平台内付款", id="wechat-word-alone"),
    pytest.param("支持微信、支付宝付款，收款后 48 小时内发货", id="payment-words-alone"),
    pytest.param("We accept WeChat payment and Alipay account transfers on the platform only.", id="payment-english"),
    pytest.param("收款时间 2024-01-15 10:30", id="shoukuan-date"),
    pytest.param("微信支付单号231201-123456789012345已退款", id="wechat-order-number"),
    pytest.param("微信支付100000元以上需要验证", id="wechat-price"),
    pytest.param("商品链接 https://mobile.yangkeduo.com/goods.html?id=1 可以直接购买", id="platform-link"),
    pytest.param("打开 www.pinduoduo.com 或 yangkeduo.com 搜索店铺名", id="platform-domains"),
    pytest.param("预计晚上8点CN仓发出", id="time-then-cn"),
    pytest.param("门店15号开业，敬请期待", id="store-and-day-of-month"),
    pytest.param("这款去死皮膏很好用，去死角也方便", id="skin-care"),
    pytest.param("订单已作废，物流信息请忽略", id="zuofei-wuliu"),
    pytest.param("电脑残留文件可以删除；信号弱，智能手表需要重启", id="allowed-phrases"),
    pytest.param("It's hit the warehouse and will ship tomorrow.", id="english-s-hit"),
    pytest.param("Thank you for choosing us. Shop again soon!", id="english-sentences"),
    pytest.param("尺码S/M/L/XL都有现货，固件版本 v1.2.3，建议 1.5 米内使用", id="sizes-versions"),
    pytest.param("身高 175cm 体重 65kg 建议 L 码，谢谢亲的支持！", id="sizes"),
    pytest.param("亲，您好！已为您备注尽快发货，预计48小时内发出。", id="greeting"),
    pytest.param("退款已原路退回，1-3个工作日到账，请留意银行卡通知。", id="bank-card-word"),
    pytest.param("请提供商品照片和快递面单照片，我们核实后为您处理。", id="photos-please"),
    pytest.param("这款是正品行货，支持全国联保，保修期一年。", id="warranty"),
    pytest.param("本店支持7天无理由退货，运费险已为您开通。", id="seven-days"),
    pytest.param("寄回时请在包裹内附上纸条，写明订单号后6位和手机尾号5678。", id="note-in-parcel"),
    pytest.param("已为您补发，新的快递单号是 JT0001234567890，请注意查收。", id="tracking-jt"),
    pytest.param("您好，门店和线上同价，线上下单更方便哦。", id="store-word-without-address"),
    pytest.param("如需到店维修，请先联系客服预约。", id="daodian-without-address"),
    pytest.param("Your refund of ¥59.90 has been processed; it takes 1-3 business days.", id="english-refund"),
    pytest.param("Sorry for the delay, your parcel SF1234567890123 is on the way.", id="english-tracking"),
    pytest.param("Please send the item back to 浙江省杭州市西湖区文三路 90 号 within 7 days.", id="english-return"),
    pytest.param("订单号：231201-123456789012345，金额：¥128.00，数量：2", id="order-summary"),
    pytest.param("会员积分 12000 分，可抵扣 120 元", id="points"),
    pytest.param("货号 A2023-0815，颜色 黑色", id="article-number"),
    pytest.param("亲，型号 iPhone 15 Pro Max 256GB 有现货", id="model"),
    pytest.param("快递员电话 138 1234 5678，可以直接联系他", id="courier-mobile-spaced"),
    pytest.param("活动时间：2024年11月11日 00:00 - 23:59", id="event-time"),
    pytest.param("微信支付的订单也可以申请退款", id="wechat-pay-orders"),
    pytest.param("手机尾号 5678 的收款人是您吗？", id="payee"),
]

RULE_CHECKS = {
    "link": rules.check_links,
    "email": rules.check_email,
    "bank_card": rules.check_bank_card,
    "payment_account": rules.check_payment_account,
    "store_address": rules.check_store_address,
    "abuse": rules.check_abuse,
}


@pytest.mark.parametrize(("text", "rule", "part"), REFUSED)
def test_refused(text, rule, part):
    breach = check_reply(text)
    assert breach is not None, f"{text!r} should break {rule}"
    assert (breach.rule, breach.part) == (rule, part)
    assert text[breach.start : breach.end] == part  # offsets into the text as written
    assert RULE_CHECKS[rule](text) == breach  # the rule's own function finds the same


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_reply_passes(text):
    assert breaches(text) == []


def test_examples_cover_every_rule_five_times_and_pass_as_often_as_refused():
    refused = [p.values[1] for p in REFUSED]
    assert all(refused.count(rule) >= 5 for rule in RULE_CHECKS)
    assert len(REFUSED) + len(ORDINARY) >= 60
    assert len(ORDINARY) >= 30


# --- rules one by one: the edges ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("https://mobile.yangkeduo.com/goods.html?id=1", None, id="platform-subdomain"),
        pytest.param("https://yangkeduo.com", None, id="platform-itself"),
        pytest.param("https://evil-yangkeduo.com", "https://evil-yangkeduo.com", id="lookalike"),
        pytest.param("https://yangkeduo.com.evil.cn/a", "https://yangkeduo.com.evil.cn/a", id="platform-as-prefix"),
        pytest.param("见 https://evil.com/a。", "https://evil.com/a", id="trailing-punctuation-left-out"),
        pytest.param("jd(dot)com", "jd(dot)com", id="dot-in-brackets"),
        pytest.param("163点com 的邮箱", "163点com", id="number-dian-com"),
        pytest.param("mobile.yangkeduo.com/x?u=evil.com", "evil.com", id="bare-domain-in-platform-query"),
        pytest.param("abc.co.uk", None, id="tld-not-listed"),
        pytest.param("淘宝点com", None, id="chinese-name-not-a-domain"),
    ],
)
def test_links(text, expected):
    breach = rules.check_links(text)
    assert (breach.part if breach else None) == expected


def test_allowed_domains_argument_and_setting(settings):
    assert rules.check_links("看 https://shop.example.net/x", allowed_domains=["example.net"]) is None
    assert rules.check_links("看 https://yangkeduo.com", allowed_domains=["example.net"]).rule == "link"
    settings.PLATFORM_DOMAINS = ["example.net"]
    assert check_reply("看 shop.example.net") is None
    assert check_reply("看 mobile.yangkeduo.com").part == "mobile.yangkeduo.com"


def test_an_email_address_is_reported_as_email_not_as_link():
    assert rules.check_links("service@shop.com") is None
    assert rules.check_email("service@shop.com").part == "service@shop.com"
    # A local part the e-mail rule does not read still leaves a domain: a link.
    assert rules.check_links("张三@qq.com").part == "qq.com"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("6222 0200 1234 5672", id="luhn-fails"),
        pytest.param("622202001234567", id="15-digits"),
        pytest.param("62220200123456710001", id="20-digits"),
        pytest.param("SF6222020012345671", id="glued-to-letters"),
        pytest.param("6222-0200 1234-5671", id="mixed-separators"),
        pytest.param("62220 20012 345671", id="not-a-card-shape"),
        pytest.param("6222  0200  1234  5671", id="double-spaces"),
    ],
)
def test_not_a_bank_card(text):
    assert rules.check_bank_card(text) is None


def test_luhn():
    assert rules.luhn_valid("79927398713")
    assert not rules.luhn_valid("79927398710")
    assert rules.luhn_valid("4111111111111111")


@pytest.mark.parametrize(
    ("text", "part"),
    [
        pytest.param("微信 abc123", "微信 abc123", id="one-space"),
        pytest.param("微信号码是 abc123", "微信号码是 abc123", id="four-other-characters"),
        pytest.param("微信号码是多 abc123", None, id="five-other-characters"),
        pytest.param("微信 abc12", None, id="five-characters-is-no-account"),
        pytest.param("加v信：+86 13812345678", "v信：+86 13812345678", id="mobile-with-country-code"),
        pytest.param("wechat payment", None, id="ordinary-english-word"),
        pytest.param("微信 WeChat", None, id="payment-word-as-token"),
        pytest.param("收款单号SF1234567890123", None, id="tracking-number"),
        pytest.param("收款账号 123456", "收款账号 123456", id="digits-account"),
        pytest.param("homewechat abc123", None, id="inside-an-english-word"),
    ],
)
def test_payment_account(text, part):
    breach = rules.check_payment_account(text)
    assert (breach.part if breach else None) == part


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("本店暂无门店。退货地址：文三路 90 号", id="other-sentence"),
        pytest.param("不支持到店自提，请寄到文三路 90 号", id="negated"),
        pytest.param("门店11月11号开业", id="date"),
        pytest.param("退货请寄到文三路 90 号", id="no-store-word"),
    ],
)
def test_not_a_store_address(text):
    assert rules.check_store_address(text) is None


def test_word_list_has_the_spec_words_and_each_word_is_refused_spaced_out():
    for word in ("傻逼", "滚蛋", "去死", "白痴", "脑残", "废物", "混蛋", "贱人"):
        assert word in rules.ABUSE_WORDS
    assert len(rules.ABUSE_WORDS) >= 40
    for word in rules.ABUSE_WORDS:
        spaced = "，".join(word) if not word.isascii() else " ".join(word.replace(" ", ""))
        for text in (f"你{word}吗", f"说 {spaced} 了"):
            breach = rules.check_abuse(text)
            assert breach is not None and breach.rule == "abuse", text


def test_allowed_phrases_pass_with_or_without_punctuation():
    assert "去死皮" in rules.ALLOWED_PHRASES
    for phrase in rules.ALLOWED_PHRASES:
        assert rules.check_abuse(f"这是{phrase}的问题") is None, phrase
        assert rules.check_abuse(f"{phrase[:2]}，{phrase[2:]}") is None, phrase
    assert rules.check_abuse("去死！皮") is None  # phrases, like words, are read without separators
    assert rules.check_abuse("去死吧").part == "去死"


def test_english_words_are_whole_words():
    assert rules.check_abuse("flame retardant fabric") is None
    assert rules.check_abuse("Scunthorpe") is None
    assert rules.check_abuse("screw-you").part == "screw-you"


# --- the reply: rule order, all breaches, messages ---------------------------------------------


def test_first_breach_in_rule_order_and_all_breaches():
    text = "傻逼，加微信 shop_abc123，或者去 www.evil.com"
    assert check_reply(text).rule == "link"  # the link is last in the text, first in the rules
    assert [(b.rule, b.part) for b in breaches(text)] == [
        ("link", "www.evil.com"),
        ("payment_account", "微信 shop_abc123"),
        ("abuse", "傻逼"),
    ]


def test_breach_messages_in_english_and_chinese(compiled_catalogues):
    breach = check_reply("你个傻逼")
    with translation.override("en"):
        assert str(breach.message) == "A reply may not contain insulting or threatening words."
    with translation.override("zh-hans"):
        assert str(breach.message) == "回复不得包含辱骂或威胁用语。"
        assert str(NotAnImage(1, "truncated").message) == "附件 2 不是图片。"
    assert set(rules.MESSAGES) == set(rules.RULES)


ADVERSARIAL = [
    pytest.param("a" * 2000, id="letters"),
    pytest.param("1 " * 1000, id="digits-and-spaces"),
    pytest.param("微信" * 1000, id="payment-words"),
    pytest.param("a." * 1000, id="labels"),
    pytest.param("1234 " * 400, id="card-groups"),
    pytest.param("a@" * 1000, id="at-signs"),
    pytest.param("门店路1" * 500, id="store-words"),
    pytest.param("s-" * 1000, id="spelled-letters"),
    pytest.param("傻 " * 1000, id="first-characters"),
    pytest.param("收款1 " * 400, id="payment-and-digits"),
    pytest.param("1" * 2000, id="one-number"),
    pytest.param("a点" * 1000, id="dian"),
    pytest.param("ａ" * 2000, id="full-width"),
    pytest.param(ZWSP.join("傻逼" * 500), id="zero-width"),
]


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_adversarial_text_is_checked_quickly(text):
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        breaches(text)
        best = min(best, time.perf_counter() - started)
    assert best < 0.05, f"{best * 1000:.1f} ms"


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab1.@ 傻逼微信号店路号-：，．＠１ａ\u200b\u3000wxcom点")), max_size=60))
def test_every_breach_points_at_its_part_in_the_original(text):
    for breach in breaches(text):
        assert breach.start < breach.end
        assert text[breach.start : breach.end] == breach.part


# --- QR codes in images ------------------------------------------------------------------------


def photo(width: int = 800, height: int = 600, seed: int = 7) -> Image.Image:
    """A photo-like picture: a gradient, grain and some blurred shapes."""
    rng = random.Random(seed)
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height)).convert("RGB")
    picture = Image.blend(gradient, grain, 0.35)
    draw = ImageDraw.Draw(picture)
    for _ in range(25):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(20, width // 5)
        draw.ellipse((x, y, x + r, y + r), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    return picture.filter(ImageFilter.GaussianBlur(1.5))


def qr_image(content: str, *, micro: bool = False, scale: int = 4) -> Image.Image:
    code = segno.make_micro(content) if micro else segno.make(content, error="m")
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=4)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


def with_code_in_corner(picture: Image.Image, code: Image.Image, size: int = 150) -> Image.Image:
    code = code.resize((size, size), Image.Resampling.NEAREST)
    result = picture.copy()
    result.paste(code, (picture.width - size - 30, picture.height - size - 30))
    return result


def encoded(picture: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    picture.save(out, fmt, **options)
    return out.getvalue()


def test_qr_code_in_a_photo_is_found_and_the_same_photo_without_it_passes():
    plain = photo()
    with_qr = with_code_in_corner(plain, qr_image("https://u.wechat.com/shop-abc"))
    assert check_reply("请看图片", [encoded(plain, quality=85)]) is None
    breach = check_reply("请看图片", [encoded(plain, quality=85), encoded(with_qr, quality=85)])
    assert breach == Breach("qr_code", "https://u.wechat.com/shop-abc", 0, 0, attachment=1)


def test_qr_code_on_a_transparent_png_is_found():
    code = qr_image("wxp://f2f0abc").convert("L")
    ink = code.point(lambda value: 0 if value > 128 else 255)  # opaque where the code is dark
    transparent = Image.merge("LA", (Image.new("L", code.size, 0), ink))  # black ink, clear paper
    assert rules.check_qr_code([encoded(transparent, "PNG")]).part == "wxp://f2f0abc"


def test_micro_qr_code_is_found():
    picture = with_code_in_corner(photo(seed=3), qr_image("12345", micro=True, scale=8), size=120)
    assert rules.check_qr_code([encoded(picture, "PNG")]).part == "12345"


def test_qr_code_in_a_later_frame_of_an_animated_gif_is_found():
    frames = [photo(seed=4).convert("P"), with_code_in_corner(photo(seed=5), qr_image("frame two")).convert("P")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=200)
    assert rules.check_qr_code([out.getvalue()]).part == "frame two"


def test_a_product_barcode_is_not_a_qr_code():
    barcode = zxingcpp.create_barcode("6901234567892", zxingcpp.BarcodeFormat.EAN13).to_image(scale=3)
    view = memoryview(barcode)
    bars = Image.frombytes("L", (view.shape[1], view.shape[0]), view.tobytes()).convert("RGB")
    picture = photo(seed=6)
    picture.paste(bars, (40, 40))
    data = encoded(picture, "PNG")
    assert [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(data)))] == ["6901234567892"]
    assert rules.check_qr_code([data]) is None


def test_a_file_object_is_read_and_left_where_it_was():
    data = encoded(with_code_in_corner(photo(), qr_image("https://evil.com")), "PNG")
    upload = io.BytesIO(data)
    assert rules.check_qr_code([upload]).part == "https://evil.com"
    assert upload.tell() == 0


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"this is not an image", id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(encoded(photo(), "PNG")[:500], id="truncated-png"),
        pytest.param(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", id="eps-not-allowed"),
    ],
)
def test_an_attachment_that_is_not_an_image_raises_value_error(data):
    with pytest.raises(ValueError, match="attachment 2 is not an image") as raised:
        check_reply("请看图片", [encoded(photo(), quality=80), data])
    assert isinstance(raised.value, NotAnImage) and raised.value.index == 1


def test_a_bad_attachment_is_reported_whatever_the_text_says():
    with pytest.raises(NotAnImage):
        check_reply("看 www.evil.com", [b"\x89PNG\r\n\x1a\nbroken"])
