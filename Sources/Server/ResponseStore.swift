import Foundation
import JSON

/// A response kept for `previous_response_id`, `GET /v1/responses/{id}` and its input items.
struct StoredResponse: Sendable {
    /// The response object as it was returned.
    var object: JSONValue
    /// Every input item the model saw, those inherited through `previous_response_id` first
    /// (instructions are not items: they do not carry over to the next response).
    var inputItems: [ResponseItem]
    var outputItems: [ResponseItem]

    /// Roughly what the entry holds in memory: its JSON, serialized.
    var approximateBytes: Int {
        object.serialized.utf8.count
            + inputItems.reduce(0) { $0 + $1.json.serialized.utf8.count }
            + outputItems.reduce(0) { $0 + $1.json.serialized.utf8.count }
    }
}

/// The responses stored with `store: true` (the API's default), least recently used first out.
///
/// In memory, on purpose: Hearth is a local server, and a conversation is worth keeping for as
/// long as the process that answered it runs — nothing a user typed is written to disk behind
/// their back, and a restart forgets it all, as an in-memory prefix cache does. The bounds (a
/// count and a byte budget) keep an agent looping for days from growing the process without
/// limit; a chained response holds its whole conversation, so long chains fill the budget first.
final class ResponseStore: @unchecked Sendable {
    let maximumCount: Int
    let maximumBytes: Int
    private let lock = NSLock()
    private var entries: [String: (response: StoredResponse, bytes: Int, lastUse: UInt64)] = [:]
    /// Output item id → the response that produced it: what an `item_reference` names (the AI
    /// SDK sends earlier assistant messages so when it stores responses, as it does by default).
    private var itemOwners: [String: String] = [:]
    private var totalBytes = 0
    private var clock: UInt64 = 0

    init(maximumCount: Int = 1000, maximumBytes: Int = 64 << 20) {
        self.maximumCount = maximumCount
        self.maximumBytes = maximumBytes
    }

    /// Keeps `response` under `id`, evicting the least recently used entries past the bounds. An
    /// entry larger than the whole budget is not kept.
    func insert(_ response: StoredResponse, id: String) {
        let bytes = response.approximateBytes
        lock.withLock {
            removeEntry(id)
            guard bytes <= maximumBytes else { return }
            while !entries.isEmpty && (entries.count >= maximumCount || totalBytes + bytes > maximumBytes) {
                // A linear scan: at most `maximumCount` entries, and only when the store is full.
                removeEntry(entries.min { $0.value.lastUse < $1.value.lastUse }!.key)
            }
            clock += 1
            entries[id] = (response, bytes, clock)
            totalBytes += bytes
            for item in response.outputItems { itemOwners[item.id] = id }
        }
    }

    /// Under the lock.
    @discardableResult
    private func removeEntry(_ id: String) -> Bool {
        guard let entry = entries.removeValue(forKey: id) else { return false }
        totalBytes -= entry.bytes
        for item in entry.response.outputItems where itemOwners[item.id] == id { itemOwners[item.id] = nil }
        return true
    }

    /// An output item of a stored response, by its id; its response is now the most recently used.
    func outputItem(_ itemID: String) -> ResponseItem? {
        lock.withLock {
            guard let owner = itemOwners[itemID], var entry = entries[owner] else { return nil }
            clock += 1
            entry.lastUse = clock
            entries[owner] = entry
            return entry.response.outputItems.first { $0.id == itemID }
        }
    }

    /// The response, now the most recently used; nil when it was never stored, was deleted or
    /// was evicted.
    func response(_ id: String) -> StoredResponse? {
        lock.withLock {
            guard var entry = entries[id] else { return nil }
            clock += 1
            entry.lastUse = clock
            entries[id] = entry
            return entry.response
        }
    }

    /// Whether there was a response to delete.
    func delete(_ id: String) -> Bool {
        lock.withLock { removeEntry(id) }
    }

    var count: Int { lock.withLock { entries.count } }
    var bytes: Int { lock.withLock { totalBytes } }
}
