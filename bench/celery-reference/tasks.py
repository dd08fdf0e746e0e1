"""The Celery half of the reference stack: one task that does what cutout's passthrough does.

The bench compares cutout's serving cost with a FastAPI + Celery stack in the style of seed 001
(a web process that queues a task, a Celery worker, Redis as broker and result backend). The task
decodes the PNG, gives it an opaque alpha channel and encodes it again, like MODEL=passthrough.
"""
import base64
import io
import os

from celery import Celery
from PIL import Image

import watchdog  # noqa: F401  (ends this process with the bench)

REDIS_URL = os.environ["REFERENCE_REDIS_URL"]

celery = Celery("reference", broker=REDIS_URL, backend=REDIS_URL)
celery.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                   worker_prefetch_multiplier=1, task_track_started=False)


@celery.task(name="cutout")
def cutout(image_base64: str) -> str:
    image = Image.open(io.BytesIO(base64.b64decode(image_base64)))
    rgba = image.convert("RGBA")
    out = io.BytesIO()
    rgba.save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode("ascii")
