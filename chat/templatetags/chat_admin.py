"""`span_date_hierarchy`: Django's date drill-down without its DISTINCT over every
row. The choices run from the list's first to its last date (one MIN/MAX, which
an index answers); a month or day without rows is still offered."""

from datetime import datetime

from django import template
from django.contrib.admin.templatetags.admin_list import date_hierarchy
from django.db.models import Max, Min, QuerySet
from django.utils import timezone

register = template.Library()


class SpanQuerySet:
    """What `date_hierarchy` reads of a list's queryset: its first and last
    value, and the years, months or days between them."""

    def __init__(self, queryset: QuerySet) -> None:
        self._queryset = queryset
        self._span: dict | None = None

    def aggregate(self, **kwargs) -> dict:
        (field,) = {agg.source_expressions[0].name for agg in kwargs.values()}
        return self.span(field)

    def span(self, field: str) -> dict:
        if self._span is None:
            self._span = self._queryset.aggregate(first=Min(field), last=Max(field))
        return self._span

    def datetimes(self, field: str, kind: str) -> list[datetime]:
        span = self.span(field)
        if span["first"] is None:
            return []
        first, last = (timezone.localtime(span[k]) for k in ("first", "last"))
        steps = []
        current = _truncate(first, kind)
        while current <= last:
            steps.append(current)
            current = _next(current, kind)
        return steps

    dates = datetimes


def _truncate(moment: datetime, kind: str) -> datetime:
    moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind in ("month", "year"):
        moment = moment.replace(day=1)
    if kind == "year":
        moment = moment.replace(month=1)
    return moment


def _next(moment: datetime, kind: str) -> datetime:
    if kind == "year":
        return moment.replace(year=moment.year + 1)
    if kind == "month":
        year, month = divmod(moment.month, 12)
        return moment.replace(year=moment.year + year, month=month + 1)
    return timezone.localtime(moment + timezone.timedelta(days=1)).replace(hour=0)


class SpanChangeList:
    """A ChangeList whose queryset is read as a span (see SpanQuerySet)."""

    def __init__(self, changelist) -> None:
        self._changelist = changelist
        self.queryset = SpanQuerySet(changelist.queryset)

    def __getattr__(self, name: str):
        return getattr(self._changelist, name)


@register.inclusion_tag("admin/date_hierarchy.html")
def span_date_hierarchy(changelist) -> dict:
    return date_hierarchy(SpanChangeList(changelist))
