import Crypto
import Foundation
import Models

/// KV blocks of prompts already computed, so a new request that starts with the same tokens (a
/// shared system prompt, a growing chat) copies them instead of recomputing.
///
/// Prompts are cut into blocks of ``blockTokens``; a block's key is the SHA-256 of the previous
/// block's key and its own tokens, so a key names the whole prefix up to it. Memory is bounded
/// by a byte budget; the least recently used blocks go first. Used by the scheduler's thread only.
final class PrefixCache {
    static let blockTokens = 32
    let byteBudget: Int
    private(set) var bytes = 0
    private var entries: [Data: Entry] = [:]
    private var clock: UInt64 = 0

    private struct Entry {
        let block: KVBlock
        var lastUsed: UInt64
    }

    init(model: TransformerModel, byteBudget: Int) {
        self.byteBudget = byteBudget
    }

    /// Chained keys of the prompt's full blocks.
    static func keys(for prompt: [Int32], blocks: Int) -> [Data] {
        var keys: [Data] = []
        var previous = Data()
        for index in 0..<blocks {
            var hasher = SHA256()
            hasher.update(data: previous)
            prompt[index * blockTokens..<(index + 1) * blockTokens].withUnsafeBytes { hasher.update(bufferPointer: $0) }
            previous = Data(hasher.finalize())
            keys.append(previous)
        }
        return keys
    }

    /// Keeps the full blocks of `prompt` that `cache` holds (it holds the whole prompt).
    func store(prompt: [Int32], from cache: KVCache) {
        let blocks = min(prompt.count, cache.count) / Self.blockTokens
        guard blocks > 0 else { return }
        clock += 1
        for (index, key) in Self.keys(for: prompt, blocks: blocks).enumerated() {
            if entries[key] != nil {
                entries[key]!.lastUsed = clock
                continue
            }
            let block = cache.copyBlock(index * Self.blockTokens..<(index + 1) * Self.blockTokens)
            guard block.byteCount <= byteBudget else { return }
            entries[key] = Entry(block: block, lastUsed: clock)
            bytes += block.byteCount
        }
        evict()
    }

    /// Extends `cache`, which holds the first `reused` tokens of `prompt`, with cached blocks
    /// that continue it, up to `limit` tokens; returns how many tokens the cache holds after.
    func restore(prompt: [Int32], into cache: KVCache, from reused: Int, limit: Int) -> Int {
        let blocks = limit / Self.blockTokens
        guard blocks > 0, cache.count == reused else { return reused }
        let keys = Self.keys(for: prompt, blocks: blocks)
        // The blocks must continue the cache without a gap: start at the block holding `reused`.
        var available = 0
        while available < blocks, entries[keys[available]] != nil { available += 1 }
        guard available * Self.blockTokens > reused else { return reused }
        clock += 1
        let firstBlock = reused / Self.blockTokens
        cache.truncate(to: firstBlock * Self.blockTokens)
        for index in firstBlock..<available {
            guard let entry = entries[keys[index]], (try? cache.append(entry.block)) != nil else { break }
            entries[keys[index]]!.lastUsed = clock
        }
        return cache.count
    }

    private func evict() {
        guard bytes > byteBudget else { return }
        let oldestFirst = entries.sorted { $0.value.lastUsed < $1.value.lastUsed }
        for (key, entry) in oldestFirst where bytes > byteBudget {
            entries[key] = nil
            bytes -= entry.block.byteCount
        }
    }
}
