from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import Group, User

admin.site.register(User, UserAdmin)


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "member_count", "created_at"]
    search_fields = ["name"]
