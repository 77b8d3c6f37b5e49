from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("probes", "0008_acknowledgements"),
    ]

    operations = [
        migrations.AddField(
            model_name="dependency",
            name="depends_on",
            # Rows declared before it depend on nothing; new ones get DependencySpec's default.
            field=models.JSONField(blank=True, default=list),
            preserve_default=False,
        ),
    ]
