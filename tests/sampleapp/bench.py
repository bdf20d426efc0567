"""What bench needs to know about the sample app: plain data, no import of bench."""

from django.contrib.auth.models import Permission

NAMESPACES = {"sample": "sample"}  # sample:permission-list is sample.permissions.list
NAIVE_PREFIX = "naive-"
VARIANTS = {"sample:permission-list": {"first5": {"limit": "5"}}}
DATASET = {"permissions": Permission.objects.count}
