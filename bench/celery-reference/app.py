"""The FastAPI half of the reference stack: seed 003's two calls over Celery's task API.

POST /start_job {"image": base64} queues the task and answers its id; GET /get_job/{id} reads the
task's state from the result backend, as seed 001's /tasks/{id} does, in the answer shape the
bench's load client reads (job_status, status, img_out_base64).
"""
from celery.result import AsyncResult
from fastapi import Body, FastAPI

from tasks import celery, cutout

app = FastAPI()

STATUS = {"PENDING": "QUEUED", "RECEIVED": "QUEUED", "STARTED": "RUNNING", "RETRY": "QUEUED",
          "SUCCESS": "SUCCEEDED", "FAILURE": "FAILED", "REVOKED": "CANCELLED"}


@app.post("/start_job")
def start_job(payload: dict = Body(...)):
    task = cutout.delay(payload["image"])
    return {"job_id": task.id}


@app.get("/get_job/{job_id}")
def get_job(job_id: str):
    result = AsyncResult(job_id, app=celery)
    status = STATUS.get(result.state, "QUEUED")
    if status == "SUCCEEDED":
        return {"job_id": job_id, "job_status": status, "status": "ok", "img_out_base64": result.result}
    if status == "FAILED":
        return {"job_id": job_id, "job_status": status, "status": "error", "error": {"code": "TASK_FAILED", "message": str(result.result)}}
    return {"job_id": job_id, "job_status": status, "status": "ok"}
