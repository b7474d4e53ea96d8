// Shared by the test targets' property tests.
import FerryCore

/// A seeded generator, so that a failing case can be replayed exactly.
public typealias SeededGenerator = SplitMix64
