/// Elements that know which of two should leave a ``PriorityQueue`` first.
protocol QueueOrdered {
    static func precedes(_ lhs: Self, _ rhs: Self) -> Bool
}

/// A binary heap. The merge loops keep every candidate pair here so that each merge costs
/// O(log n) — merging by rescanning all pairs would be quadratic on a long word.
struct PriorityQueue<Element: QueueOrdered> {
    private var heap: [Element] = []

    init(capacity: Int) { heap.reserveCapacity(capacity) }

    var isEmpty: Bool { heap.isEmpty }

    mutating func removeAll() { heap.removeAll(keepingCapacity: true) }

    mutating func push(_ element: Element) {
        heap.append(element)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Element.precedes(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        let top = heap[0]
        heap[0] = last
        var parent = 0
        let count = heap.count
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            var best = left
            if right < count && Element.precedes(heap[right], heap[left]) { best = right }
            guard Element.precedes(heap[best], heap[parent]) else { break }
            heap.swapAt(best, parent)
            parent = best
        }
        return top
    }
}
