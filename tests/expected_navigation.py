"""What each role's navigation should offer, in order: written out by hand (not read from
pddadmin.navigation, which is what the tests check), shared by the shell test and the browser walk."""

MONEY_PAGES = ["charges", "accounts", "orders"]
MERCHANT_PAGES = [
    "desk",
    "cases",
    "addresses",
    "hotline",
    "service",
    "dashboard",
    "violations",
    "payouts",
    *MONEY_PAGES,
]
# The owner also manages the shop's staff, after the hotline.
OWNER_PAGES = [*MERCHANT_PAGES[:4], "staff", *MERCHANT_PAGES[4:]]
PLATFORM_PAGES = ["dashboard", "platform", "queue", "warranty", "charges", "accounts"]
