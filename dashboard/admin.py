"""Users and groups in the admin: Django's own, with the ids their forms post checked
before they reach a query. SQLite cannot bind an integer past 64 bits: a groups or
permissions id such as 99999999999999999999 was a 500 there, not a form error."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.http import HttpRequest

# What a 64-bit integer column holds, the widest of Django's integer primary keys.
INTEGER_KEYS = range(-(2**63), 2**63)


class CheckedIdsField(forms.ModelMultipleChoiceField):
    def _check_values(self, value: Any) -> Any:
        meta = self.queryset.model._meta
        key = meta.get_field(self.to_field_name) if self.to_field_name else meta.pk
        if isinstance(key, models.IntegerField) and isinstance(value, list | tuple):
            for pk in value:
                try:
                    number = int(pk)
                except (TypeError, ValueError):
                    continue  # Django's own check says so
                if number not in INTEGER_KEYS:
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"],
                        code="invalid_pk_value",
                        params={"pk": pk},
                    )
        return super()._check_values(value)


class CheckedIdsAdmin(admin.ModelAdmin):
    def formfield_for_manytomany(
        self, db_field: models.ManyToManyField, request: HttpRequest, **kwargs: Any
    ) -> forms.ModelMultipleChoiceField | None:
        kwargs.setdefault("form_class", CheckedIdsField)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class CheckedUserAdmin(CheckedIdsAdmin, UserAdmin):
    pass


class CheckedGroupAdmin(CheckedIdsAdmin, GroupAdmin):
    pass


admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), CheckedUserAdmin)
admin.site.unregister(Group)
admin.site.register(Group, CheckedGroupAdmin)
