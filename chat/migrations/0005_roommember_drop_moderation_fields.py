from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [("chat", "0004_sanctions_from_members")]

    operations = [
        migrations.RemoveField(model_name="roommember", name="is_banned"),
        migrations.RemoveField(model_name="roommember", name="muted_until"),
    ]
