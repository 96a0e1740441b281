"""A shop's books open when the shop does: its opening deposit and balance become the opening
entries at once, so every page and export reads the ledger as it is and no read writes.

A signal rather than a call from `shops.services.shop_open`: the shops app sits below the ledger
and knows nothing of it.
"""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from pddadmin.shops.models import Shop

from .services import ledger


@receiver(post_save, sender=Shop, dispatch_uid="compensation.open_books")
def open_books(sender, instance: Shop, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        with transaction.atomic():
            ledger.lock_books(shop_id=instance.pk)
