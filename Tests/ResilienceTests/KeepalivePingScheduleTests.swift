import Resilience
import XCTest

final class KeepalivePingScheduleTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    /// grpc core's ping abuse policy (chttp2 PingAbusePolicy, also grpc-go's enforcement): a PING
    /// less than 5 minutes after the previous one is a strike unless the server sent HEADERS or
    /// DATA in between; more than 2 strikes is GOAWAY(too_many_pings).
    private struct GRPCServerPingPolicy {
        var lastPing: UInt64?
        var strikes = 0

        mutating func received(pingAt now: UInt64) -> Bool {
            if let lastPing, now < lastPing + 300_000_000_000 { strikes += 1 }
            lastPing = now
            return strikes > 2
        }

        mutating func sentData() {
            lastPing = nil
            strikes = 0
        }
    }

    /// Runs the schedule's ticks from `start` for `duration`; the backend answers every PING at
    /// once and sends stream frames at the given times. Returns the PING times.
    private func run(
        _ schedule: inout KeepalivePingSchedule, from start: UInt64 = 0, for duration: UInt64,
        serverSends: Set<UInt64> = [], server: inout GRPCServerPingPolicy
    ) -> [UInt64] {
        var pings: [UInt64] = []
        var now = start
        var lastTick = start
        while now < start + duration {
            now += schedule.tickNanoseconds
            let sent = serverSends.contains { $0 > lastTick && $0 <= now }
            if sent { server.sentData() }
            lastTick = now
            switch schedule.tick(now: now, streamsOpen: true, sawStreamFrames: sent) {
            case .sendPing:
                pings.append(now)
                XCTAssertFalse(server.received(pingAt: now), "GOAWAY(too_many_pings) at \(now / second) s")
                schedule.acknowledged()
            case .closeUnanswered:
                XCTFail("an answered PING closed the connection")
            case .none:
                break
            }
        }
        return pings
    }

    func testAQuietStreamNeverGetsTooManyPingsFromAGRPCServer() {
        var schedule = KeepalivePingSchedule(intervalNanoseconds: 10 * second, timeoutNanoseconds: 5 * second, now: 0)
        var server = GRPCServerPingPolicy()
        let pings = run(&schedule, for: 3600 * second, server: &server)
        XCTAssertEqual(pings.prefix(4).map { $0 / second }, [10, 30, 70, 380], "gaps grow: 1×, 2×, 4× the interval, then over 5 min")
        XCTAssertEqual(server.strikes, 2)
    }

    func testServerTrafficResetsTheGapsAndSuppressesPings() {
        var schedule = KeepalivePingSchedule(intervalNanoseconds: 10 * second, timeoutNanoseconds: 5 * second, now: 0)
        var server = GRPCServerPingPolicy()
        // A message every 8 s: the backend proves itself alive, no PING is needed.
        let busy = Set(stride(from: 8 * second, to: 600 * second, by: Int(8 * second)).map { UInt64($0) })
        XCTAssertEqual(run(&schedule, for: 600 * second, serverSends: busy, server: &server), [])
        // A message every 100 s: three PINGs in each silence, never a third strike.
        var sparse = KeepalivePingSchedule(intervalNanoseconds: 10 * second, timeoutNanoseconds: 5 * second, now: 0)
        let messages = Set(stride(from: 100 * second, to: 1800 * second, by: Int(100 * second)).map { UInt64($0) })
        let pings = run(&sparse, for: 1800 * second, serverSends: messages, server: &server)
        XCTAssertEqual(pings.filter { $0 > 100 * second && $0 <= 200 * second }.map { $0 / second }, [110, 130, 170])
    }

    func testABlackholedBackendIsFoundWithinTwentySeconds() {
        // The backend's last frame came just after a tick: the worst case for noticing silence.
        for lastFrame in stride(from: UInt64(0), to: 10 * second, by: Int(second)) {
            var schedule = KeepalivePingSchedule(intervalNanoseconds: 10 * second, timeoutNanoseconds: 5 * second, now: 0)
            var now: UInt64 = 0
            var closedAt: UInt64?
            while closedAt == nil, now < 60 * second {
                let previous = now
                now += schedule.tickNanoseconds
                let frames = lastFrame > previous && lastFrame <= now
                if schedule.tick(now: now, streamsOpen: true, sawStreamFrames: frames) == .closeUnanswered { closedAt = now }
            }
            XCTAssertNotNil(closedAt)
            XCTAssertLessThanOrEqual((closedAt ?? .max) - lastFrame, 20 * second, "last frame at \(lastFrame / second) s")
        }
    }

    /// A periodic timer may fire microseconds early against the clock: that must not cost a
    /// whole tick (a blackhole found after 20 s instead of 15).
    func testTicksThatComeEarlyStillCount() {
        var schedule = KeepalivePingSchedule(intervalNanoseconds: 10 * second, timeoutNanoseconds: 5 * second, now: 0)
        let early: UInt64 = 1_000
        XCTAssertEqual(schedule.tick(now: 5 * second - early, streamsOpen: true, sawStreamFrames: false), .none)
        XCTAssertEqual(schedule.tick(now: 10 * second - early, streamsOpen: true, sawStreamFrames: false), .sendPing)
        XCTAssertEqual(schedule.tick(now: 15 * second - 2 * early, streamsOpen: true, sawStreamFrames: false), .closeUnanswered)
    }

    func testAnIdleConnectionIsNotPinged() {
        var schedule = KeepalivePingSchedule(intervalNanoseconds: 10 * second, timeoutNanoseconds: 5 * second, now: 0)
        for tick in 1...200 {
            XCTAssertEqual(schedule.tick(now: UInt64(tick) * schedule.tickNanoseconds, streamsOpen: false, sawStreamFrames: false), .none)
        }
        // Streams open after a long idle: silence counts from then.
        let opened = 200 * schedule.tickNanoseconds
        XCTAssertEqual(schedule.tick(now: opened + 5 * second, streamsOpen: true, sawStreamFrames: false), .none)
        XCTAssertEqual(schedule.tick(now: opened + 10 * second, streamsOpen: true, sawStreamFrames: false), .sendPing)
        XCTAssertEqual(schedule.tick(now: opened + 12 * second, streamsOpen: true, sawStreamFrames: false), .none)
        XCTAssertEqual(schedule.tick(now: opened + 15 * second, streamsOpen: true, sawStreamFrames: false), .closeUnanswered)
    }
}
