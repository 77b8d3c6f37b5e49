from __future__ import annotations

from django.db import models


class Scope(models.TextChoices):
    READ = "read"
    WRITE = "write"  # reads too


class ApiToken(models.Model):
    """A token for /api/v1/: only the SHA-256 of its value is kept, so the database alone
    cannot call the API; the value is shown once, when it is made."""

    name = models.CharField(max_length=100, unique=True)
    scope = models.CharField(max_length=5, choices=Scope.choices)
    # SHA-256 of the token, hex: a lookup by hash, not a comparison of secrets.
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    # A revoked token stays, so that the audit log's "who" keeps meaning something.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API token"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def allows(self, scope: Scope) -> bool:
        return scope == Scope.READ or self.scope == Scope.WRITE


class AuditEntry(models.Model):
    """One write, through the API or a page: who, what, when."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # "token NAME" or "user USERNAME": text, so that an entry outlives its token or user.
    who = models.CharField(max_length=200)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    summary = models.CharField(max_length=500)

    class Meta:
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.who}: {self.summary}"
