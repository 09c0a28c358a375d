# The full tour's load test (keptn-job-executor-delivery-poc locust/basic.py).
from locust import HttpUser, task, between


class WebsiteUser(HttpUser):
    wait_time = between(5, 15)

    @task
    def index(self):
        self.client.get("/")
