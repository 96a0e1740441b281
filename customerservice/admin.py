"""Read-only admin for conversations, messages and late-reply violations: they change only through
the services (the feed, the workbench, the late-reply job)."""

from django.contrib import admin

from pddadmin.shops.admin_scope import ReadOnlyAdminMixin, ShopListFilter, ShopScopedAdminMixin
from pddadmin.shops.paginator import LargeTablePaginator

from .models import Conversation, LateReplyViolation, Message


class MessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Message
    fields = ["platform_id", "direction", "at", "text", "reply_due_at", "answered_at", "violation"]
    readonly_fields = fields
    extra = 0


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    shop_path = "shop"
    list_display = ["buyer", "shop", "last_message_at", "reply_due_at", "last_violation_at"]
    list_filter = [ShopListFilter]
    list_select_related = ["shop"]
    search_fields = ["buyer"]
    paginator = LargeTablePaginator
    show_full_result_count = False
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    shop_path = "conversation__shop"
    list_display = ["platform_id", "conversation", "direction", "at", "reply_due_at", "answered_at", "violation"]
    list_filter = ["direction", "source"]
    list_select_related = ["conversation__shop", "violation"]
    search_fields = ["platform_id", "conversation__buyer"]
    date_hierarchy = "at"
    paginator = LargeTablePaginator
    show_full_result_count = False


@admin.register(LateReplyViolation)
class LateReplyViolationAdmin(ReadOnlyAdminMixin, ShopScopedAdminMixin, admin.ModelAdmin):
    shop_path = "shop"
    list_display = ["message", "shop", "conversation", "due_at", "year", "rank", "fine", "charge"]
    list_filter = [ShopListFilter, "year"]
    list_select_related = ["shop", "conversation__shop", "message", "charge"]
    search_fields = ["message__platform_id", "conversation__buyer"]
    date_hierarchy = "due_at"
    paginator = LargeTablePaginator
    show_full_result_count = False
