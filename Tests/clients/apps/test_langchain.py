"""LangChain against a live `hearth serve`: `langchain-openai` (ChatOpenAI, OpenAIEmbeddings) and
`langchain-ollama` (ChatOllama, OllamaEmbeddings), each on its defaults, as its docs show:
only the base URL, a dummy key and the model name are set.

Notes on the defaults (langchain-openai 1.8.1, langchain-ollama 1.1.0):
- ChatOpenAI.with_structured_output(...) defaults to method="json_schema" (response_format
  {"type": "json_schema", "json_schema": {..., "strict": ...}}); ChatOllama's defaults to
  "json_schema" too (Ollama `format` = the schema).
- OpenAIEmbeddings defaults to check_embedding_ctx_length=True: it tokenizes every text with
  tiktoken (cl100k_base for a model name tiktoken does not know) and sends the *token ids*
  (`input: [[int, …], …]`), not the text. Those ids are cl100k_base's, not the served model's.
"""

import json
import unittest

import pydantic

from hearth_apps import JSON_MODEL, SMALL_EMBEDDING_SIZE, SMALL_MODEL, TOOL_MODEL, AppTestCase, cosine, offline_tiktoken

offline_tiktoken()

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.tools import tool  # noqa: E402
from langchain_ollama import ChatOllama, OllamaEmbeddings  # noqa: E402
from langchain_openai import ChatOpenAI, OpenAIEmbeddings  # noqa: E402

QUESTION = "What is the capital of France? Answer in one sentence."


class City(pydantic.BaseModel):
    """A city and the country it is in."""
    name: str = pydantic.Field(description="the city's name")
    country: str = pydantic.Field(description="the country the city is in")
    population_millions: float = pydantic.Field(description="population in millions")


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return "18 degrees Celsius and sunny"


WEATHER_QUESTION = "What is the weather like in Paris right now? Use the tool."


class LangChainChecks:
    """The same checks for ChatOpenAI and ChatOllama; subclasses make `chat(model)`."""

    def chat(self, model, **settings):
        raise NotImplementedError

    def test_invoke(self):
        answer = self.chat(SMALL_MODEL).invoke(QUESTION)
        self.assertIsInstance(answer, AIMessage)
        self.assertTrue(answer.content.strip(), f"empty answer: {answer!r}")
        self.assertIsNotNone(answer.usage_metadata, "no token usage in the answer")
        self.assertGreater(answer.usage_metadata["input_tokens"], 0)
        self.assertGreater(answer.usage_metadata["output_tokens"], 0)
        self.assertNoHTTPErrors()

    def test_stream(self):
        chunks = list(self.chat(SMALL_MODEL).stream(QUESTION))
        text = "".join(chunk.content for chunk in chunks)
        self.assertGreater(len([chunk for chunk in chunks if chunk.content]), 1, "the answer did not stream")
        self.assertTrue(text.strip(), "empty streamed answer")
        self.assertNoHTTPErrors()

    def test_structured_output_default_method(self):
        structured = self.chat(TOOL_MODEL).with_structured_output(City)
        city = structured.invoke("Describe the city of Paris.")
        self.assertIsInstance(city, City)
        self.assertIn("paris", city.name.lower())
        self.assertIn("france", city.country.lower())
        self.assertNoHTTPErrors()

    def test_tool_call_round_trip(self):
        # Greedy, as tool agents are usually run: at the APIs' default temperatures (1 and 0.8) the
        # 1.5B model ignores the tool's result in about one answer in four (measured over 8 seeds).
        model = self.chat(TOOL_MODEL, temperature=0).bind_tools([get_weather])
        messages = [HumanMessage(WEATHER_QUESTION)]
        first = model.invoke(messages)
        self.assertEqual(len(first.tool_calls), 1, f"expected one tool call, got {first!r}")
        call = first.tool_calls[0]
        self.assertEqual(call["name"], "get_weather")
        self.assertIn("paris", str(call["args"].get("city", "")).lower(), f"arguments: {call['args']!r}")
        self.assertTrue(call["id"], "a tool call needs an id to answer it")
        messages += [first, ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"])]
        final = model.invoke(messages)
        self.assertEqual(final.tool_calls, [], f"the tool result did not end the calls: {final!r}")
        self.assertRegex(final.content.lower(), r"18|sunny", f"the answer ignores the tool's result: {final.content!r}")
        self.assertNoHTTPErrors()


class LangChainOpenAITests(LangChainChecks, AppTestCase):
    models = (SMALL_MODEL, TOOL_MODEL)

    def chat(self, model, **settings):
        return ChatOpenAI(base_url=f"{self.base}/v1", api_key="x", model=model, **settings)

    def test_stream_usage(self):
        """stream_usage=True asks for stream_options.include_usage; the usage comes in the last chunk."""
        model = ChatOpenAI(base_url=f"{self.base}/v1", api_key="x", model=SMALL_MODEL, stream_usage=True)
        total = None
        for chunk in model.stream(QUESTION):
            total = chunk if total is None else total + chunk
        self.assertIsNotNone(total.usage_metadata)
        self.assertGreater(total.usage_metadata["output_tokens"], 0)
        self.assertNoHTTPErrors()

    def embeddings(self, **settings):
        return OpenAIEmbeddings(base_url=f"{self.base}/v1", api_key="x", model=SMALL_MODEL, **settings)

    def test_embeddings_default_sends_token_ids(self):
        """The default OpenAIEmbeddings sends cl100k_base token ids; what comes back must be the
        embedding of the *text* (as with check_embedding_ctx_length=False), not of other tokens."""
        texts = ["The cat sat on the mat.", "Quarterly tax revenue grew by four percent."]
        vectors = self.embeddings().embed_documents(texts)
        if self.recording:
            sent = [record["body"]["input"] for record in self.requests_to("/v1/embeddings") if record.get("body")]
            self.assertTrue(sent and isinstance(sent[0], list) and isinstance(sent[0][0], list),
                            f"expected token-id input from the default OpenAIEmbeddings, sent {sent!r}")
        self.assertEqual(len(vectors), 2)
        self.assertEqual(len(vectors[0]), SMALL_EMBEDDING_SIZE)
        reference = self.embeddings(check_embedding_ctx_length=False).embed_documents(texts)
        for vector, expected, text in zip(vectors, reference, texts):
            self.assertGreater(cosine(vector, expected), 0.99,
                               f"the token-id embedding of {text!r} is not the text's embedding")
        self.assertNoHTTPErrors()

    def test_structured_output_function_calling(self):
        """method="function_calling": a forced named tool call (tool_choice + parallel_tool_calls=false)."""
        structured = self.chat(TOOL_MODEL).with_structured_output(City, method="function_calling")
        city = structured.invoke("Describe the city of Paris.")
        self.assertIsInstance(city, City)
        self.assertIn("paris", city.name.lower())
        self.assertNoHTTPErrors()

    def test_embeddings_text_input(self):
        vector = self.embeddings(check_embedding_ctx_length=False).embed_query("Hello, world")
        self.assertEqual(len(vector), SMALL_EMBEDDING_SIZE)
        self.assertNoHTTPErrors()


class LangChainOllamaTests(LangChainChecks, AppTestCase):
    models = (SMALL_MODEL, JSON_MODEL, TOOL_MODEL)

    def chat(self, model, **settings):
        return ChatOllama(base_url=self.base, model=model, **settings)

    def test_common_settings(self):
        """Settings LangChain's ChatOllama docs and users commonly add: a bigger context than the
        server's (num_ctx=8192) and reasoning=False (sends `think: false`)."""
        answer = ChatOllama(base_url=self.base, model=SMALL_MODEL, num_ctx=8192, reasoning=False,
                            temperature=0).invoke(QUESTION)
        self.assertTrue(answer.content.strip(), f"empty answer: {answer!r}")
        self.assertNoHTTPErrors()

    def test_json_mode(self):
        """ChatOllama(format="json") — the `format` LangChain's docs show first."""
        answer = ChatOllama(base_url=self.base, model=JSON_MODEL, format="json").invoke(
            "List three colours as a JSON object with a key 'colours'.")
        self.assertIsInstance(json.loads(answer.content), dict)
        self.assertNoHTTPErrors()

    def test_embeddings(self):
        embeddings = OllamaEmbeddings(base_url=self.base, model=SMALL_MODEL)
        vectors = embeddings.embed_documents(["The cat sat on the mat.", "Quarterly tax revenue grew."])
        self.assertEqual(len(vectors), 2)
        self.assertEqual(len(vectors[0]), SMALL_EMBEDDING_SIZE)
        query = embeddings.embed_query("The cat sat on the mat.")
        self.assertGreater(cosine(query, vectors[0]), 0.999)
        self.assertNoHTTPErrors()


if __name__ == "__main__":
    unittest.main()
