"""Created models (Ollama's Modelfile: `ollama.create`, `POST /api/create`, `hearth create`)
driven the way their users drive them, on qwen2.5-coder:0.5b.

A created model must answer exactly as its base model answers when the request itself carries
what the Modelfile added (the system prompt, the messages, the options): same prompt tokens,
same greedy text, on the Ollama and the OpenAI routes and on `hearth run`.

The created models live in the shared test store under names of their own (hard links, so no
weights are copied) and are deleted at the end.
"""

import hashlib
import http.client
import json
import os
import subprocess
import tempfile
import unittest
from pathlib import Path

import ollama

from hearth_process import hearth_bin, hearth_home
from test_clients import ModelClientsTestCase, request

BASE = "qwen2.5-coder:0.5b"
SYSTEM = "You are a patient geography teacher. Answer in one full sentence."
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
PREAMBLE = [
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "content": "Four."},
]
TOKENS = 24
NAME = f"modelfile-test-{os.getpid()}"


class CreatedModelTests(ModelClientsTestCase):
    models = (BASE,)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.created = []
        cls.addClassCleanup(cls.delete_created)

    @classmethod
    def delete_created(cls):
        for name in cls.created:
            try:
                cls.ollama.delete(name)
            except ollama.ResponseError:
                pass

    def create(self, name, **fields):
        self.created.append(name)
        return self.ollama.create(model=name, **fields)

    def raw_show(self, name):
        """/api/show's whole answer (the `ollama` client's ShowResponse has no `system` or `messages`)."""
        status, _, body = request(self.port, "POST", "/api/show", {"model": name})
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def test_the_ollama_client_creates_a_model_both_routes_use(self):
        name = NAME + "-terse"
        status = self.create(name, from_=BASE, system=SYSTEM, parameters={"temperature": 0, "num_predict": TOKENS})
        self.assertEqual(status.status, "success")
        self.assertIn(name + ":latest", [model.model for model in self.ollama.list().models])

        # Ollama's chat: the created model with nothing but the question…
        created = self.ollama.chat(model=name, messages=QUESTION)
        # …is the base model with the system prompt and options in the request.
        explicit = self.ollama.chat(model=BASE, messages=[{"role": "system", "content": SYSTEM}] + QUESTION,
                                    options={"temperature": 0, "num_predict": TOKENS})
        self.assertEqual(created.prompt_eval_count, explicit.prompt_eval_count)
        self.assertEqual(created.message.content, explicit.message.content)
        self.assertTrue(created.message.content.strip())
        self.assertLessEqual(created.eval_count, TOKENS)

        # The OpenAI route: the same defaults, and a request's own value wins over the model's.
        answer = self.openai.chat.completions.create(model=name, messages=QUESTION)
        base = self.openai.chat.completions.create(model=BASE, messages=[{"role": "system", "content": SYSTEM}] + QUESTION,
                                                   temperature=0, max_tokens=TOKENS)
        self.assertEqual(answer.usage.prompt_tokens, base.usage.prompt_tokens)
        self.assertEqual(answer.choices[0].message.content, base.choices[0].message.content)
        self.assertEqual(answer.model, name)
        self.assertGreater(answer.usage.completion_tokens, 1)
        short = self.openai.chat.completions.create(model=name, messages=QUESTION, max_tokens=1)
        self.assertEqual((short.usage.completion_tokens, short.choices[0].finish_reason), (1, "length"))

        # A request with a system prompt of its own replaces the model's.
        own = self.ollama.chat(model=name, messages=[{"role": "system", "content": "Be helpful."}] + QUESTION)
        plain = self.ollama.chat(model=BASE, messages=[{"role": "system", "content": "Be helpful."}] + QUESTION,
                                 options={"temperature": 0, "num_predict": TOKENS})
        self.assertEqual(own.prompt_eval_count, plain.prompt_eval_count)
        self.assertEqual(own.message.content, plain.message.content)

        # /api/generate takes the model's system prompt too.
        generated = self.ollama.generate(model=name, prompt=QUESTION[0]["content"])
        self.assertEqual(generated.prompt_eval_count, created.prompt_eval_count)
        self.assertEqual(generated.response, created.message.content)

        shown = self.ollama.show(name)
        self.assertEqual(self.raw_show(name)["system"], SYSTEM)
        self.assertIn("temperature 0", shown.parameters)
        self.assertIn(f"num_predict {TOKENS}", shown.parameters)
        self.assertIn("SYSTEM", shown.modelfile)
        self.assertEqual(shown.details.parent_model, BASE)

    def test_messages_come_before_the_conversation(self):
        name = NAME + "-preamble"
        self.create(name, from_=BASE, messages=PREAMBLE, parameters={"temperature": 0, "num_predict": TOKENS})
        created = self.ollama.chat(model=name, messages=QUESTION)
        explicit = self.ollama.chat(model=BASE, messages=PREAMBLE + QUESTION, options={"temperature": 0, "num_predict": TOKENS})
        self.assertEqual(created.prompt_eval_count, explicit.prompt_eval_count)
        self.assertEqual(created.message.content, explicit.message.content)
        self.assertEqual(self.raw_show(name)["messages"], PREAMBLE)

    def test_a_jinja_template_replaces_the_models_own(self):
        name = NAME + "-template"
        # ChatML written out by hand, with the system turn dropped: the prompt must be exactly this.
        template = ("{% for m in messages %}{% if m.role != 'system' %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
                    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
        self.create(name, from_=BASE, template=template, system=SYSTEM, parameters={"temperature": 0, "num_predict": TOKENS})
        created = self.ollama.generate(model=name, prompt="Name a colour.")
        raw = self.ollama.generate(model=BASE, raw=True, prompt="<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n",
                                   options={"temperature": 0, "num_predict": TOKENS})
        self.assertEqual(created.prompt_eval_count, raw.prompt_eval_count)
        self.assertEqual(created.response, raw.response)
        self.assertEqual(self.ollama.show(name).template, template)

    def test_the_older_modelfile_form_and_copy(self):
        name = NAME + "-legacy"
        self.created.append(name)
        modelfile = f'FROM {BASE}\nSYSTEM """{SYSTEM}"""\nPARAMETER temperature 0\nPARAMETER num_predict {TOKENS}\n'
        status, _, body = request(self.port, "POST", "/api/create", {"model": name, "modelfile": modelfile, "stream": False})
        self.assertEqual((status, json.loads(body)), (200, {"status": "success"}))
        copied = name + "-copy"
        self.created.append(copied)
        self.ollama.copy(name, copied)
        first = self.ollama.chat(model=name, messages=QUESTION)
        second = self.ollama.chat(model=copied, messages=QUESTION)
        self.assertEqual(first.message.content, second.message.content)
        self.assertEqual(self.raw_show(copied)["system"], SYSTEM)

    def test_a_model_created_again_is_used_at_once(self):
        name = NAME + "-again"
        self.create(name, from_=BASE, system=SYSTEM, parameters={"temperature": 0, "num_predict": 4})
        self.assertLessEqual(self.ollama.chat(model=name, messages=QUESTION).eval_count, 4)
        self.create(name, from_=BASE, system=SYSTEM, parameters={"temperature": 0, "num_predict": 1})
        self.assertEqual(self.ollama.chat(model=name, messages=QUESTION).eval_count, 1)

    def test_bad_requests_name_their_problem(self):
        cases = [
            ({"model": NAME + "-bad", "from": BASE, "template": "{{ .System }} {{ .Prompt }}"}, 400, "Go template"),
            ({"model": NAME + "-bad", "from": BASE, "template": "{% for m in messages %}"}, 400, "does not compile"),
            ({"model": NAME + "-bad", "from": BASE, "parameters": {"flux": 1}}, 400, "unknown parameter"),
            ({"model": NAME + "-bad", "from": BASE, "parameters": {"temperature": "hot"}}, 400, "parameters.temperature"),
            ({"model": NAME + "-bad", "from": BASE, "parameters": {"top_p": 7}}, 400, "top_p"),
            ({"model": NAME + "-bad", "from": BASE, "messages": [{"role": "robot", "content": "x"}]}, 400, "role"),
            ({"model": NAME + "-bad", "from": "no-such-model:1b"}, 404, "not found"),
            ({"model": NAME + "-bad", "from": BASE, "files": {"a.gguf": "sha256:" + "0" * 64}}, 400, "files"),
            ({"model": NAME + "-bad", "from": BASE, "adapters": {"a.gguf": "sha256:" + "0" * 64}}, 400, "upload it first"),
            ({"model": NAME + "-bad", "files": {"a.gguf": "sha256:" + "0" * 64}}, 400, "upload it first"),
            ({"model": NAME + "-bad", "files": {"model.safetensors": "sha256:" + "0" * 64}}, 400, "GGUF"),
            ({"model": NAME + "-bad", "files": {"a.gguf": "md5:00"}}, 400, "files.a.gguf"),
            ({"model": NAME + "-bad", "from": BASE, "adapters": ["a.gguf"]}, 400, "adapters"),
            ({"model": NAME + "-bad", "modelfile": f"FROM {BASE}\nADAPTER /tmp/x.gguf"}, 400, "ADAPTER"),
            ({"model": NAME + "-bad", "modelfile": "FROM /etc/passwd"}, 400, "installed model"),
            ({"model": NAME + "-bad", "modelfile": "SYSTEM hi"}, 400, "FROM"),
            ({"model": "../escape", "from": BASE}, 400, "not a valid model name"),
        ]
        for body, expected_status, expected_text in cases:
            with self.subTest(body=body):
                status, _, text = request(self.port, "POST", "/api/create", dict(body, stream=False))
                self.assertEqual(status, expected_status, text)
                self.assertIn(expected_text, text)
        names = [model.model for model in self.ollama.list().models]
        self.assertFalse([name for name in names if "-bad" in name], "a refused create leaves nothing behind")


ADAPTER_BASE = "smollm2:135m"


class UploadedFilesTests(ModelClientsTestCase):
    """Files sent over HTTP (`ollama.Client.create_blob`, then `create` with `files` or `adapters`),
    as Ollama's CLI and client libraries create models on a server they do not run on."""

    models = (ADAPTER_BASE,)

    def hearth(self, *arguments):
        result = subprocess.run([str(hearth_bin()), *arguments], capture_output=True, text=True, timeout=600,
                                env=dict(os.environ, HEARTH_HOME=str(hearth_home())))
        self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def created(self, name):
        self.addCleanup(lambda: request(self.port, "DELETE", "/api/delete", {"model": name}))
        return name

    def greedy(self, model, prompt="The capital of France is"):
        return self.ollama.generate(model=model, prompt=prompt, raw=True, options={"temperature": 0, "num_predict": 16}).response

    def test_an_uploaded_adapter_answers_as_the_same_adapter_created_on_the_server(self):
        adapter = hearth_home() / "smollm2-lora.gguf"  # written by scripts/test (scripts/make-lora-adapter.py)
        self.assertTrue(adapter.exists(), f"{adapter} is missing: scripts/test writes it")
        digest = self.ollama.create_blob(adapter)
        self.assertEqual(request(self.port, "HEAD", f"/api/blobs/{digest}")[0], 200)
        uploaded = self.created(NAME + "-uploaded-lora")
        self.ollama.create(model=uploaded, from_=ADAPTER_BASE, adapters={"lora.gguf": digest})
        local = self.created(NAME + "-local-lora")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "Modelfile"
            path.write_text(f"FROM {ADAPTER_BASE}\nADAPTER {adapter}\n")
            self.hearth("create", local, "-f", str(path))
        answer = self.greedy(uploaded)
        self.assertEqual(answer, self.greedy(local))
        self.assertNotEqual(answer, self.greedy(ADAPTER_BASE))
        self.assertFalse((hearth_home() / "blobs" / digest.replace(":", "-")).exists(), "the create consumes the upload")

    def test_an_uploaded_gguf_becomes_a_model_without_a_copy(self):
        fixture = Path(__file__).resolve().parents[1] / "ModelsTests" / "Fixtures" / "tiny-qwen3.gguf"
        digest = self.ollama.create_blob(fixture)
        name = self.created(NAME + "-uploaded")
        self.ollama.create(model=name, files={"tiny-qwen3.gguf": digest}, system="Be brief.", parameters={"num_predict": 3})
        listed = {model.model: model for model in self.ollama.list().models}
        self.assertIn(f"{name}:latest", listed)
        self.assertEqual("sha256:" + listed[f"{name}:latest"].digest.removeprefix("sha256:"), digest)
        self.assertEqual(listed[f"{name}:latest"].size, fixture.stat().st_size)
        self.assertEqual(self.raw_show(name)["system"], "Be brief.")
        self.assertLessEqual(self.ollama.generate(model=name, prompt="hi").eval_count, 3)
        self.assertFalse((hearth_home() / "blobs" / digest.replace(":", "-")).exists(), "the model links the upload's bytes")

    def test_a_file_the_store_holds_needs_no_upload(self):
        installed = {model.model: model.digest for model in self.ollama.list().models}
        digest = "sha256:" + installed[ADAPTER_BASE].removeprefix("sha256:")
        self.assertEqual(request(self.port, "HEAD", f"/api/blobs/{digest}")[0], 200)
        self.assertEqual(request(self.port, "HEAD", "/api/blobs/sha256:" + "1" * 64)[0], 404)
        name = self.created(NAME + "-linked")
        self.ollama.create(model=name, files={"smollm2.gguf": digest})
        self.assertEqual(self.greedy(name), self.greedy(ADAPTER_BASE))
        self.assertEqual(os.stat(hearth_home() / "models" / f"{name}.gguf").st_ino,
                         os.stat(hearth_home() / "models" / f"{ADAPTER_BASE}.gguf").st_ino)

    def test_bad_uploads_are_refused_and_leave_nothing(self):
        def upload(digest, data):
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                connection.request("POST", f"/api/blobs/{digest}", body=data)
                response = connection.getresponse()
                return response.status, response.read().decode()
            finally:
                connection.close()

        data = b"GGUF" + os.urandom(1000)
        wrong = "sha256:" + hashlib.sha256(b"something else").hexdigest()
        for digest, body, status, text in [
            (wrong, data, 400, "digest mismatch"),
            ("sha256:xyz", data, 400, "not a digest"),
            ("sha256:" + hashlib.sha256(b"<html>").hexdigest(), b"<html>", 400, "not a GGUF file"),
        ]:
            with self.subTest(digest=digest):
                got_status, got_text = upload(digest, body)
                self.assertEqual(got_status, status, got_text)
                self.assertIn(text, got_text)
        self.assertFalse(list((hearth_home() / "tmp").glob(".blob-*")), "a refused upload leaves no partial file")
        self.assertFalse((hearth_home() / "blobs" / wrong.replace(":", "-")).exists())
        # Garbage with the right digest is kept as a blob, but a create refuses it by name.
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.assertEqual(upload(digest, data)[0], 201)
        status, _, text = request(self.port, "POST", "/api/create", {"model": NAME + "-garbage", "files": {"x.gguf": digest}, "stream": False})
        self.assertEqual(status, 400, text)
        self.assertIn("not a model Hearth can run", text)
        status, _, text = request(self.port, "POST", "/api/create", {"model": NAME + "-garbage", "from": ADAPTER_BASE,
                                                                      "adapters": {"x.gguf": digest}, "stream": False})
        self.assertEqual(status, 400, text)
        self.assertIn("not a LoRA adapter", text)
        (hearth_home() / "blobs" / digest.replace(":", "-")).unlink()
        # An adapter made for another architecture.
        lora = self.ollama.create_blob(hearth_home() / "smollm2-lora.gguf")
        self.addCleanup(lambda: (hearth_home() / "blobs" / lora.replace(":", "-")).unlink(missing_ok=True))
        status, _, text = request(self.port, "POST", "/api/create", {"model": NAME + "-garbage", "from": "qwen2.5-coder:0.5b",
                                                                      "adapters": {"lora.gguf": lora}, "stream": False})
        self.assertEqual(status, 400, text)
        self.assertIn("does not fit", text)
        self.assertIn("made for llama, but the model is qwen2", text)
        self.assertNotIn(NAME + "-garbage:latest", [model.model for model in self.ollama.list().models])

    def raw_show(self, name):
        status, _, body = request(self.port, "POST", "/api/show", {"model": name})
        self.assertEqual(status, 200, body)
        return json.loads(body)


class CreateCommandTests(unittest.TestCase):
    """`hearth create NAME -f Modelfile`, `hearth show --modelfile` and `hearth run` on the model."""

    def hearth(self, *arguments, check=True):
        result = subprocess.run([str(hearth_bin()), *arguments], capture_output=True, text=True, timeout=600,
                                env=dict(os.environ, HEARTH_HOME=str(hearth_home())))
        if check and result.returncode != 0:
            raise AssertionError(f"hearth {' '.join(arguments)} exited {result.returncode}: {result.stderr}")
        return result

    def test_create_show_and_run(self):
        name = NAME + "-cli"
        again = NAME + "-cli-again"
        self.addCleanup(self.hearth, "rm", name, check=False)
        self.addCleanup(self.hearth, "rm", again, check=False)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "Modelfile"
            path.write_text(f'# a terse model\nFROM {BASE}\nSYSTEM """{SYSTEM}"""\nPARAMETER temperature 0\n'
                            f"PARAMETER num_predict {TOKENS}\n")
            created = self.hearth("create", name, "-f", str(path))
            self.assertIn(f"created {name} from {BASE}", created.stdout)
            shown = self.hearth("show", name, "--modelfile").stdout
            self.assertIn(f"SYSTEM {SYSTEM}\n", shown)
            self.assertIn(f"FROM {BASE}\n", shown)
            self.assertIn("PARAMETER temperature 0", shown)
            # What `show --modelfile` prints makes the same model again.
            path.write_text(shown)
            self.hearth("create", again, "-f", str(path))
        question = QUESTION[0]["content"]
        answer = self.hearth("run", name, question)
        explicit = self.hearth("run", BASE, "--system", SYSTEM, "--temp", "0", "-n", str(TOKENS), question)
        self.assertEqual(answer.stdout, explicit.stdout)
        self.assertTrue(answer.stdout.strip())
        self.assertEqual(self.hearth("run", again, question).stdout, answer.stdout)
        # A flag wins over the model's PARAMETER.
        one = self.hearth("run", name, "-n", "1", question)
        self.assertIn("generated: 1 tokens", one.stderr)

    def test_an_adapter_in_a_modelfile_is_the_same_as_lora(self):
        name = NAME + "-lora"
        adapter = hearth_home() / "smollm2-lora.gguf"  # written by scripts/test (scripts/make-lora-adapter.py)
        self.assertTrue(adapter.exists(), f"{adapter} is missing: scripts/test writes it")
        self.addCleanup(self.hearth, "rm", name, check=False)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "Modelfile"
            path.write_text(f"FROM smollm2:135m\nADAPTER {adapter}\n")
            self.hearth("create", name, "-f", str(path))
        prompt = "The capital of France is"
        created = self.hearth("run", name, "--raw", "--temp", "0", "-n", "16", prompt).stdout
        flagged = self.hearth("run", "smollm2:135m", "--raw", "--temp", "0", "-n", "16", "--lora", str(adapter), prompt).stdout
        plain = self.hearth("run", "smollm2:135m", "--raw", "--temp", "0", "-n", "16", prompt).stdout
        self.assertEqual(created, flagged)
        self.assertNotEqual(created, plain)
        self.assertIn("ADAPTER ", self.hearth("show", name, "--modelfile").stdout)

    def test_bad_flags_are_refused_by_name(self):
        for arguments, expected in [
            (("run", "smollm2:135m", "--lora", "/nonexistent/lora.gguf", "Hi"), "--lora /nonexistent/lora.gguf"),
            (("run", "smollm2:135m", "--lora", str(hearth_home() / "models" / "smollm2:135m.gguf"), "Hi"), "not an adapter"),
            (("usage", "--since", "yesterday"), "--since"),
            (("usage", "--by", "week"), "--by"),
        ]:
            with self.subTest(arguments=arguments):
                result = self.hearth(*arguments, check=False)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn(expected, result.stderr)

    def test_bad_modelfiles_are_refused_by_name(self):
        cases = [
            ("PARAMETER temperature 0\n", "no FROM"),
            (f"FROM {BASE}\nPARAMETER temperature hot\n", "expected a number"),
            (f"FROM {BASE}\nPARAMETER top_p 9\n", "top_p"),
            (f'FROM {BASE}\nTEMPLATE """{{{{ .Prompt }}}}"""\n', "Go template"),
            (f"FROM {BASE}\nADAPTER ./lora.gguf\n", "ADAPTER"),
            (f"FROM {BASE}\nADAPTER {hearth_home() / 'smollm2-lora.gguf'}\n", "made for llama, but the model is qwen2"),
            ("FROM ./missing.gguf\n", "no such file"),
        ]
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "Modelfile"
            for text, expected in cases:
                with self.subTest(text=text):
                    path.write_text(text)
                    result = self.hearth("create", NAME + "-refused", "-f", str(path), check=False)
                    self.assertNotEqual(result.returncode, 0)
                    self.assertIn(expected, result.stderr)
        listed = self.hearth("list").stdout
        self.assertNotIn(NAME + "-refused", listed)


if __name__ == "__main__":
    unittest.main()
