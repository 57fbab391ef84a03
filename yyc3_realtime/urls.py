from drf_spectacular.views import SpectacularAPIView

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView, TemplateView

from yyc3_realtime import monitoring, views

api_patterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="token-obtain"),
    path(
        "auth/token/refresh/",
        views.TokenRefreshThrottledView.as_view(),
        name="token-refresh",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("", include("chat.urls")),
    path("", include("notifications.urls")),
]

urlpatterns = [
    path("", TemplateView.as_view(template_name="index.html"), name="index"),
    path(
        "favicon.ico",
        RedirectView.as_view(url="/static/favicon.ico", permanent=True),
        name="favicon",
    ),
    path("admin/monitor/", admin.site.admin_view(monitoring.page), name="monitor"),
    path(
        "admin/monitor/data/",
        admin.site.admin_view(monitoring.data),
        name="monitor-data",
    ),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
]
