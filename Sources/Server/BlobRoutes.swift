import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Store

/// Ollama's blob routes, for creating models from files the client has (`ollama create` and the
/// client libraries' `create_blob`): `HEAD /api/blobs/:digest` says whether the server already
/// holds those bytes; `POST /api/blobs/:digest` uploads them, hashed on the way and kept only
/// when they have that digest. `/api/create` then names them in `files` or `adapters`.
extension HearthServer {
    /// Bytes gathered before a write, so the disk is written in large pieces off the event loop.
    static let blobWriteBytes = 4 << 20

    func addBlobRoutes(to router: Router<some RequestContext>) {
        router.head("/api/blobs/:digest") { [self] _, context in
            let sha256 = try Self.blobDigest(context.parameters.get("digest"))
            let store = self.store
            let present = try await offload { (try? store.file(withSHA256: sha256)) != nil }
            return Response(status: present ? .ok : .notFound)
        }
        router.post("/api/blobs/:digest") { [self] request, context in
            let sha256 = try Self.blobDigest(context.parameters.get("digest"))
            let size = request.headers[.contentLength].flatMap { Int64($0) }
            let store = self.store
            let upload: BlobUpload
            do {
                upload = try await offload { try store.beginBlob(sha256: sha256, expectedSize: size) }
            } catch let error as StoreError {
                throw APIError(error.code == .insufficientDiskSpace ? Self.insufficientStorage : .internalServerError, "\(error)")
            }
            do {
                var pending = ByteBuffer()
                for try await chunk in request.body {
                    var chunk = chunk
                    pending.writeBuffer(&chunk)
                    if pending.readableBytes >= Self.blobWriteBytes {
                        let full = pending
                        pending = ByteBuffer()
                        try await offload { try full.withUnsafeReadableBytes { try upload.append($0) } }
                    }
                }
                let rest = pending
                try await offload {
                    try rest.withUnsafeReadableBytes { try upload.append($0) }
                    try upload.finish()
                }
            } catch let error as StoreError {
                upload.discard()
                let status: HTTPResponse.Status = error.code == .insufficientDiskSpace ? Self.insufficientStorage : .badRequest
                throw APIError(status, "\(error)")
            } catch {
                upload.discard()
                throw error
            }
            logger.info("blob sha256:\(sha256) uploaded (\(upload.byteCount) bytes)")
            return Response(status: .created)
        }
    }

    /// 507 Insufficient Storage (RFC 4918), which HTTPTypes does not name.
    static let insufficientStorage = HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage")

    static func blobDigest(_ text: String?) throws(APIError) -> String {
        guard let text, let sha256 = ModelStore.sha256(ofDigest: text) else {
            throw APIError(.badRequest, "'\(text ?? "")' is not a digest; expected 'sha256:' and 64 hex digits")
        }
        return sha256
    }
}
