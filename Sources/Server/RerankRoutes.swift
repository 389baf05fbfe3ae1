import Engine
import Foundation
import HTTPTypes
import Hummingbird
import JSON

/// Reranking with a cross-encoder (bge-reranker, ms-marco-MiniLM, jina-reranker): each document
/// scored against the query in one encoder pass, the results sorted best first.
///
/// - `/v1/rerank`, `/rerank`, `/v1/reranking`, `/reranking`: llama-server's routes and shapes —
///   Jina's (`documents`: `{model, object, usage, results: [{index, relevance_score}]}`) and
///   Hugging Face TEI's (`texts`: a bare list of `{index, score}`); the model's raw score.
/// - `/v2/rerank`: Cohere's (what the `cohere` client posts), whose scores lie in [0, 1]: the
///   raw score through a sigmoid.
extension HearthServer {
    static let rerankPaths = ["/v1/rerank", "/rerank", "/v1/reranking", "/reranking"]
    static let cohereRerankPath = "/v2/rerank"
    /// Documents in one request (Cohere's limit).
    static let rerankDocumentLimit = 10_000

    func addRerankRoutes(to router: Router<HearthRequestContext>) {
        for path in Self.rerankPaths {
            router.post(RouterPath(path)) { [self] request, _ in try await rerank(try await json(request), cohere: false) }
        }
        router.post(RouterPath(Self.cohereRerankPath)) { [self] request, _ in try await rerank(try await json(request), cohere: true) }
    }

    /// A rerank request, validated.
    struct RerankRequest: Sendable {
        var model: String
        var query: String
        var documents: [String]
        /// `texts` (TEI) rather than `documents` (Jina, Cohere): TEI's response shape.
        var teiShape: Bool
        var topN: Int?
        var returnDocuments: Bool
        var maxTokensPerDocument: Int?
        var truncate: Bool
        var sigmoid: Bool

        init(_ body: JSONValue, cohere: Bool) throws(APIError) {
            let fields = try RequestFields(body)
            try fields.rejectUnknown(
                known: ["model", "query", "documents", "texts", "top_n", "return_documents", "return_text",
                        "max_tokens_per_doc", "truncate", "raw_scores"],
                unsupported: ["relevant_spans": "Hearth's rerankers score whole documents; they find no spans"],
                // Scheduling and bookkeeping hints: they never change a score.
                ignored: ["priority", "user"])
            model = try fields.requiredString("model")
            guard let query = try fields.string("query") else { throw APIError.invalidField("query", "is required (a string)") }
            self.query = query
            let documentsValue = fields.value("documents"), textsValue = fields.value("texts")
            if documentsValue != nil && textsValue != nil {
                throw APIError.badRequest("give either 'documents' or 'texts', not both")
            }
            teiShape = textsValue != nil
            let field = teiShape ? "texts" : "documents"
            guard case .array(let items)? = documentsValue ?? textsValue else {
                throw APIError.invalidField(field, "is required (a non-empty list of strings)")
            }
            guard !items.isEmpty else { throw APIError.invalidField(field, "must not be empty") }
            guard items.count <= Self.documentLimit else {
                throw APIError.invalidField(field, "at most \(Self.documentLimit) documents in one request, got \(items.count)")
            }
            documents = try items.enumerated().map { index, item throws(APIError) -> String in
                switch item {
                case .string(let text): return text
                // Jina's and Cohere v1's documents may be objects holding the text.
                case .object(let object):
                    guard case .string(let text)? = object["text"] else {
                        throw APIError.invalidField("\(field)[\(index)]", "expected a string or an object with a 'text' string")
                    }
                    return text
                default:
                    throw APIError.invalidField("\(field)[\(index)]", "expected a string, got \(item.typeName)")
                }
            }
            topN = try fields.int("top_n", in: 1...Int(Int32.max))
            returnDocuments = try fields.bool(teiShape ? "return_text" : "return_documents") ?? false
            if !teiShape, try fields.bool("return_text") == true {
                throw APIError.invalidField("return_text", "is TEI's field, for requests that send 'texts'; with 'documents' use 'return_documents'")
            }
            if teiShape, try fields.bool("return_documents") == true {
                throw APIError.invalidField("return_documents", "is Jina's and Cohere's field, for requests that send 'documents'; with 'texts' use 'return_text'")
            }
            maxTokensPerDocument = try fields.int("max_tokens_per_doc", in: 1...1 << 24)
            truncate = try fields.bool("truncate") ?? true
            // Cohere's scores lie in [0, 1]; TEI applies a sigmoid unless `raw_scores`; llama-server's
            // routes return the raw score.
            let raw = try fields.bool("raw_scores")
            sigmoid = raw.map { !$0 } ?? cohere
        }

        static var documentLimit: Int { HearthServer.rerankDocumentLimit }
    }

    func rerank(_ body: JSONValue, cohere: Bool) async throws -> Response {
        let request = try RerankRequest(body, cohere: cohere)
        let started = ContinuousClock.now
        guard let instance = try await models.acquireEmbeddingModel(request.model) else {
            throw APIError(.badRequest, "'\(request.model)' cannot rerank: it is a chat model; reranking needs a cross-encoder "
                           + "(a BERT-family GGUF with a classification head, such as bge-reranker)", parameter: "model",
                           code: "model_not_supported")
        }
        defer { instance.usage.end() }
        guard instance.model.ranks else {
            throw APIError(.badRequest, "'\(request.model)' cannot rerank: it is an embedding model without a classification head "
                           + "(cls.output.weight); use /v1/embeddings", parameter: "model", code: "model_not_supported")
        }
        let computing = ContinuousClock.now
        let model = instance.model
        let field = request.teiShape ? "texts" : "documents"
        let outcome: Result<([Float], Int), APIError> = await onOwnThread {
            var pairs: [[Int32]] = []
            for (index, document) in request.documents.enumerated() {
                do {
                    pairs.append(try model.rankingTokens(query: request.query, document: document, truncate: request.truncate,
                                                         documentTokenLimit: request.maxTokensPerDocument))
                } catch EngineError.promptTooLong(let count, let limit) {
                    return .failure(APIError(
                        .badRequest, "the query and \(field)[\(index)] are \(count) tokens, more than the model's context of \(limit) tokens "
                            + "(leave 'truncate' unset to shorten the document)",
                        parameter: "\(field)[\(index)]", code: "context_length_exceeded"))
                } catch EngineError.invalidOption(let name, let reason) {
                    return .failure(APIError.invalidField(name, reason))
                } catch {
                    return .failure(APIError.invalidField("\(field)[\(index)]", "cannot score it: \(error)"))
                }
            }
            // All pairs checked: scored together in packed passes.
            do {
                return .success((try model.relevances(ofInputs: pairs), pairs.reduce(0) { $0 + $1.count }))
            } catch {
                return .failure(APIError(.internalServerError, "cannot score the documents: \(error)"))
            }
        }
        let (scores, tokens) = try outcome.get()
        await recordEmbedding(model: instance.name, tokens: tokens, started: started, computing: computing)
        return Reply.json(Self.rerankResponse(request, scores: scores, tokens: tokens))
    }

    /// The scores sorted best first (ties in input order), cut to `top_n`, in the request's shape.
    static func rerankResponse(_ request: RerankRequest, scores: [Float], tokens: Int) -> JSONValue {
        let values = scores.map { request.sigmoid ? 1 / (1 + exp(-Double($0))) : Double($0) }
        let order = values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
        let kept = order.prefix(request.topN ?? order.count)
        if request.teiShape {
            return .array(kept.map { index in
                var item: JSONObject = ["index": .int(index), "score": .double(values[index])]
                if request.returnDocuments { item["text"] = .string(request.documents[index]) }
                return .object(item)
            })
        }
        let results: [JSONValue] = kept.map { index in
            var item: JSONObject = ["index": .int(index), "relevance_score": .double(values[index])]
            if request.returnDocuments { item["document"] = .object(["text": .string(request.documents[index])]) }
            return .object(item)
        }
        return .object([
            "id": .string("rerank-" + UUID().uuidString.lowercased()),
            "model": .string(request.model),
            "object": "list",
            "usage": .object(["prompt_tokens": .int(tokens), "total_tokens": .int(tokens)]),
            "results": .array(results),
            "meta": .object(["billed_units": .object(["search_units": .int(1)])]),
        ])
    }
}
