import XCTest

@testable import Loop

final class LoopMailboxTests: XCTestCase {
    /// Four threads post at once while the loop delivers: every message arrives once, each
    /// thread's in the order it posted them (the eventfd wakes the loop without libevent's locks).
    func testMessagesFromManyThreadsArriveOnceAndInOrder() throws {
        let loop = try EventLoop()
        let threads = 4
        let perThread = 5_000
        var received: [[Int]] = Array(repeating: [], count: threads)
        var total = 0
        var mailbox: LoopMailbox<(thread: Int, sequence: Int)>!
        mailbox = LoopMailbox(loop: loop) { message in
            received[message.thread].append(message.sequence)
            total += 1
            if total == threads * perThread {
                mailbox.remove()
                loop.stop()
            }
        }
        // Bounds the test if a wake-up were lost: the loop would otherwise wait for ever.
        let guardTimer = LoopTimer(loop: loop) {
            mailbox.remove()
            loop.stop()
        }
        guardTimer.schedule(afterNanoseconds: 20_000_000_000)
        let posting = mailbox!
        for thread in 0..<threads {
            LoopThread.start {
                for sequence in 0..<perThread { posting.post((thread, sequence)) }
            }
        }
        loop.run()
        guardTimer.cancel()
        // The handler holds the mailbox through `mailbox`: the cycle ends here.
        mailbox = nil
        XCTAssertEqual(total, threads * perThread)
        for thread in 0..<threads { XCTAssertEqual(received[thread], Array(0..<perThread)) }
    }
}
