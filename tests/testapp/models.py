"""Models that exist only for the tests: one field of every kind the importer converts into."""

from django.db import models


class Reading(models.Model):
    """A row with one field per conversion rule (CASES.md C01–C14, C19)."""

    code = models.CharField(max_length=20, unique=True)
    label = models.CharField(max_length=40, blank=True)
    amount = models.DecimalField(max_digits=9, decimal_places=3, null=True, blank=True)
    small_amount = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    huge_amount = models.DecimalField(max_digits=45, decimal_places=0, null=True, blank=True)
    count = models.IntegerField(null=True, blank=True)
    big_count = models.BigIntegerField(null=True, blank=True)
    quantity = models.IntegerField(default=0)
    ratio = models.FloatField(null=True, blank=True)
    active = models.BooleanField(default=False)
    payload = models.JSONField(null=True, blank=True)
    blob = models.BinaryField(null=True, blank=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    token = models.UUIDField(null=True, blank=True)
    size = models.CharField(max_length=1, choices=[("S", "Small"), ("L", "Large")], blank=True)

    def __str__(self) -> str:
        return self.code


class Counter(models.Model):
    """An AutoField primary key written explicitly (C16)."""

    name = models.CharField(max_length=40)
    touched_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    slug = models.SlugField(unique=True)

    def __str__(self) -> str:
        return self.slug


class Article(models.Model):
    """Many-to-many by slug (C25)."""

    id = models.CharField(primary_key=True, max_length=20)
    title = models.CharField(max_length=100)
    tags = models.ManyToManyField(Tag, blank=True)

    def __str__(self) -> str:
        return self.title
