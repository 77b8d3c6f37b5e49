from __future__ import annotations

from django.urls import path

from inbound import views
from inbound.models import Signal

urlpatterns = [
    path("ping/<str:token>", views.ping, name="ping"),
    path("ping/<str:token>/start", views.ping, {"what": Signal.What.START}, name="ping-start"),
    path("ping/<str:token>/fail", views.ping, {"what": Signal.What.FAIL}, name="ping-fail"),
    path("ping/<str:token>/<int:exit_code>", views.ping, name="ping-exit"),
    path("hooks/<str:name>", views.hook, name="hook"),
]
