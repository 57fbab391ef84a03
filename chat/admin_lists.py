"""Admin building blocks for lists of a million rows, and the moderation-log
excerpt shown on each target's page.

A related-field filter lists every room or user on each page load; these take a
typed value instead (a room id, a username or user id) and cost no query. The
paginator counts at most `ADMIN_COUNT_LIMIT` rows.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from chat.models import ModerationLog
from chat.selectors import sanctions_active

HISTORY_ROWS = 10


class CappedPaginator(Paginator):
    """Counts at most ADMIN_COUNT_LIMIT rows: `COUNT(*)` over a whole table is a
    full scan. Later pages are reached by filtering."""

    @cached_property
    def count(self) -> int:
        return self.object_list[: settings.ADMIN_COUNT_LIMIT].count()


class InputFilter(admin.SimpleListFilter):
    """A filter with a text box: `?<parameter_name>=<value>`."""

    template = "admin/chat/input_filter.html"
    placeholder = ""

    def __init__(self, request, params, model, model_admin) -> None:
        super().__init__(request, params, model, model_admin)
        # The other parameters of the page, kept by the filter's own form.
        self.kept = [
            (name, value)
            for name, values in request.GET.lists()
            if name not in (self.parameter_name, "p")
            for value in values
        ]

    def lookups(self, request, model_admin):
        return (("", ""),)  # shown by its template, not as choices

    def choices(self, changelist):
        yield {"value": self.value() or "", "kept": self.kept}

    def queryset(self, request, queryset: QuerySet) -> QuerySet | None:
        value = (self.value() or "").strip()
        return queryset.filter(self.q(value)) if value else None

    def q(self, value: str) -> Q:
        raise NotImplementedError


class RoomFilter(InputFilter):
    title = "room id"
    parameter_name = "room"
    placeholder = "drama-1"

    def q(self, value: str) -> Q:
        return Q(room__room_id=value)


class UserInputFilter(InputFilter):
    """A user by username, or by numeric id."""

    field = "user"
    placeholder = "username or id"

    def q(self, value: str) -> Q:
        q = Q(**{f"{self.field}__username": value})
        if value.isdigit():
            q |= Q(**{f"{self.field}_id": int(value)})
        return q


class SenderFilter(UserInputFilter):
    title = "sender"
    parameter_name = "sender"
    field = "sender"


class UserFilter(UserInputFilter):
    title = "user concerned"
    parameter_name = "user"


class ActorFilter(InputFilter):
    title = "moderator"
    parameter_name = "actor"
    placeholder = "username"

    def q(self, value: str) -> Q:
        return Q(actor_name=value)


class TargetFilter(InputFilter):
    """`?target=chat.chatmessage:42`: the entries about one object."""

    title = "target"
    parameter_name = "target"
    placeholder = "chat.room:1"

    def q(self, value: str) -> Q:
        label, _, pk = value.partition(":")
        return Q(target_type=label, target_id=pk)


class ActiveFilter(admin.SimpleListFilter):
    title = "in force"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return (("yes", "in force"), ("no", "ended"))

    def queryset(self, request, queryset: QuerySet) -> QuerySet | None:
        if self.value() == "yes":
            return queryset & sanctions_active()
        if self.value() == "no":
            return queryset.filter(ends_at__lte=timezone.now())
        return None


class ScopeFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request, model_admin):
        return (("site", "site-wide"), ("room", "one room"))

    def queryset(self, request, queryset: QuerySet) -> QuerySet | None:
        if self.value() in ("site", "room"):
            return queryset.filter(room__isnull=self.value() == "site")
        return None


class BigListAdmin(admin.ModelAdmin):
    """Newest first, capped count, no full count or facet counts, sorted by the
    default only."""

    ordering = ("-pk",)
    show_facets = admin.ShowFacets.NEVER
    # Its date drill-down reads the first and last date only (chat_admin tags).
    change_list_template = "admin/chat/big_change_list.html"
    paginator = CappedPaginator
    show_full_result_count = False
    sortable_by = ()
    list_per_page = 50


def preview(text: str) -> str:
    """Return `text` cut to ADMIN_TEXT_PREVIEW_CHARS for a list column."""
    return Truncator(text).chars(settings.ADMIN_TEXT_PREVIEW_CHARS)


def log_url(**query: str) -> str:
    return reverse("admin:chat_moderationlog_changelist") + "?" + urlencode(query)


def history_html(entries: QuerySet, **query: str):
    """The latest moderation entries of a target, and a link to all of them."""
    rows = list(entries.order_by("-pk")[:HISTORY_ROWS])
    if not rows:
        return "—"
    return format_html(
        "<ul style='margin:0;padding-left:1em'>{}</ul><a href='{}'>all entries</a>",
        format_html_join(
            "",
            "<li>{} · {} · {} {}</li>",
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M"),
                    e.actor_name,
                    e.get_action_display(),
                    e.reason,
                )
                for e in rows
            ),
        ),
        log_url(**query),
    )


def target_history(obj) -> str:
    """Readonly field: the log entries whose target is `obj`."""
    if obj is None or obj.pk is None:
        return "—"
    label = obj._meta.label_lower
    return history_html(
        ModerationLog.objects.filter(target_type=label, target_id=str(obj.pk)),
        target=f"{label}:{obj.pk}",
    )
