"""After-sales models (SPEC §2, §3), one module per thing: addresses, cases, the case log,
refunds; the vocabulary in `choices` and the rules of the transitions in `rules`.

Every public name is re-exported here, so `from aftersales.models import X` is the one way in.
"""

from .addresses import ReturnAddress
from .cases import AfterSalesCase, Evidence, automatic_transitions, declared_transitions, transition_labels
from .choices import (
    EXCHANGE_REASONS,
    OPEN_STATES,
    REASON_CLASS,
    TERMINAL_STATES,
    WAITING_BUYER,
    Actor,
    CloseReason,
    Kind,
    Liable,
    Reason,
    ReasonClass,
    State,
)
from .log import CaseTransition
from .refunds import Refund
from .rules import (
    AFTERSALES_WINDOW,
    AGREE_RULES,
    BUYER_WINDOW,
    EXCHANGE_WINDOW,
    MERCHANT_WINDOW,
    OPEN_RULES,
    RESHIP_RULES,
    RETURN_CHECK_WINDOW,
    SHORTEN_FLOOR,
    amount_error,
    exchange_window_end,
    reason_error,
    window_end,
)

__all__ = [
    "AFTERSALES_WINDOW",
    "AGREE_RULES",
    "BUYER_WINDOW",
    "EXCHANGE_REASONS",
    "EXCHANGE_WINDOW",
    "MERCHANT_WINDOW",
    "OPEN_RULES",
    "OPEN_STATES",
    "REASON_CLASS",
    "RESHIP_RULES",
    "RETURN_CHECK_WINDOW",
    "SHORTEN_FLOOR",
    "TERMINAL_STATES",
    "WAITING_BUYER",
    "Actor",
    "AfterSalesCase",
    "CaseTransition",
    "CloseReason",
    "Evidence",
    "Kind",
    "Liable",
    "Reason",
    "ReasonClass",
    "Refund",
    "ReturnAddress",
    "State",
    "amount_error",
    "automatic_transitions",
    "declared_transitions",
    "exchange_window_end",
    "reason_error",
    "transition_labels",
    "window_end",
]
