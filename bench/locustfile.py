"""The seed's three user classes (../shared/seed/scenarios.md) as a Locust file, with the same
endpoints, payloads and success checks as aurax-tool's built-in scenario
(src/scenario/aurax.toml), so the two tools offer the same load and can be compared on it
(bench/peers.sh). Run against 127.0.0.1 only, e.g. the simulator of `aurax-tool serve`:

    locust -f bench/locustfile.py --headless --host http://127.0.0.1:8000 \
        -u 50 -r 25 -t 60s AuraxBurstUser
"""

import random

from locust import HttpUser, between, task

TEXT_PROMPTS = [
    "Explain the difference between supervised and unsupervised learning.",
    "Summarise the main causes of the French Revolution in three paragraphs.",
    "What are the trade-offs between microservices and a monolith?",
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Describe how vaccines train the immune system.",
    "Give me a weekly meal plan for a vegetarian athlete.",
    "How does a transformer model use attention?",
    "Compare renewable energy sources by cost and reliability.",
]
CODE_PROMPTS = [
    "Write a Python function that merges two sorted lists.",
    "Implement a thread-safe LRU cache in Rust.",
    "Write a SQL query returning the top five customers by revenue per month.",
    "Create a FastAPI endpoint that uploads a file to S3.",
    "Write a binary search in TypeScript with unit tests.",
    "Implement a rate limiter using the token bucket algorithm in Go.",
]
IMAGE_PROMPTS = [
    "Create an image of: a futuristic city at sunset",
    "Create an image of: a cat astronaut floating in space",
    "Create an image of: a watercolour mountain landscape",
    "Create an image of: a robot reading a book in a library",
    "Create an image of: an isometric pixel-art coffee shop",
]
ROUTING_QUERIES = [
    "Write a sorting algorithm in Python",
    "Draw a picture of a dragon",
    "What is the latest news on renewable energy?",
    "Explain quantum entanglement",
    "Generate a logo for a bakery",
    "Debug this JavaScript closure",
]
HEADERS = {"Accept": "application/json"}


def checked(user, name, method, path, payload=None, equals=None, present=()):
    """One request judged as aurax-tool judges it: status 200, then the body's fields."""
    with user.client.request(
        method, path, json=payload, headers=HEADERS, name=name, catch_response=True
    ) as response:
        if response.status_code != 200:
            response.failure(f"HTTP {response.status_code}")
            return
        if not equals and not present:
            response.success()
            return
        try:
            body = response.json()
        except ValueError:
            response.failure("body is not JSON")
            return
        for field, want in (equals or {}).items():
            if body.get(field) != want:
                response.failure(body.get("error") or f"{field} is not {want!r}")
                return
        for field in present:
            if field not in body:
                response.failure(f"no {field}")
                return
        response.success()


class AuraxLoadTestUser(HttpUser):
    """Normal behaviour: 50% text, 30% code, 10% image, 10% system monitoring."""

    wait_time = between(1, 3)

    def on_start(self):
        checked(self, "health", "GET", "/health")

    @task(50)
    def generate_text(self):
        checked(self, "generate_text", "POST", "/generate", {
            "prompt": random.choice(TEXT_PROMPTS),
            "max_tokens": random.randint(500, 1500),
            "context_threshold": round(random.uniform(0.3, 0.8), 2),
        }, equals={"success": True})

    @task(30)
    def generate_code(self):
        checked(self, "generate_code", "POST", "/generate", {
            "prompt": random.choice(CODE_PROMPTS),
            "model": "qwen3:coder",
            "max_tokens": random.randint(800, 2000),
            "context_threshold": 0.3,
            "routing_metadata": {"preferred_model": "code"},
        }, equals={"success": True, "response_type": "code"})

    @task(10)
    def generate_image(self):
        checked(self, "generate_image", "POST", "/generate", {
            "prompt": random.choice(IMAGE_PROMPTS),
            "routing_metadata": {"preferred_model": "image"},
        }, equals={"success": True})

    @task(5)
    def system_status(self):
        checked(self, "system_status", "GET", "/system/status",
                equals={"success": True}, present=("components",))

    @task(5)
    def test_routing(self):
        checked(self, "test_routing", "POST", "/route", {
            "query": random.choice(ROUTING_QUERIES),
            "metadata": {"test": True},
        }, equals={"success": True}, present=("routing",))


class AuraxBurstUser(HttpUser):
    """Sudden spikes: simple, fast requests at high frequency."""

    wait_time = between(0.1, 0.5)

    @task
    def burst_request(self):
        checked(self, "burst_request", "POST", "/generate", {
            "prompt": "Hello", "max_tokens": 100, "context_threshold": 0.5,
        }, equals={"success": True})


class AuraxPeakHourUser(HttpUser):
    """Peak periods: 80% text, 20% code."""

    wait_time = between(0.5, 2)

    @task(80)
    def generate_text(self):
        AuraxLoadTestUser.generate_text(self)

    @task(20)
    def generate_code(self):
        AuraxLoadTestUser.generate_code(self)
