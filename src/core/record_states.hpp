// The record state machine: the only code that changes a journal record's state.
//
//                 abort                              (terminal)
//   (new) ─record─▶ pending ──────────────────────▶ aborted ◀──────────────┐
//                      │  └─ roll_back_undecided ──▶ aborted               │
//                      │ decide                                            │ roll_back
//                      ▼                                                   │
//                  committing ── finish / roll_forward ──▶ committed       │
//                      │                                   (terminal)      │
//                      └──── compensate ───────────────▶ rolling_back ─────┘
//
// Each move has one row in the table (record_states.cpp): the state it starts from, the state
// it ends in, how the write is synced, what it does to the tool state in the same LMDB
// transaction, and the step (crash point) reached right after the write is done. The in-flight
// index holds exactly the records in a non-terminal state. A move whose starting state does not
// match the record is refused (invalid_input, nothing written).
// docs/protocol.md, "States of a journal record", explains why each sync choice is safe.
//
// Thread-safety: stateless; the caller owns the record and serializes on its journal.
#pragma once

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "core/steps.hpp"
#include "journal/journal.hpp"
#include "reftx/types.hpp"

namespace reftx::core {

enum class Move : std::uint8_t {
  record,               // (new) -> pending: before anything else is touched
  decide,               // pending -> committing: the commit point; applies the tool state
  finish,               // committing -> committed: the commit path's last write
  abort,                // pending -> aborted: the commit path gives up before the decision
  compensate,           // committing -> rolling_back: git refused to carry out the decision
  roll_back_undecided,  // pending -> aborted: recovery of an undecided record
  roll_forward,         // committing -> committed: recovery of a decided record
  roll_back,            // rolling_back -> aborted: recovery; puts the tool state back
};

struct MoveRule {
  Move move;
  std::string_view name;
  std::optional<TxState> from;  // nullopt: a record not yet in the journal
  TxState to;
  journal::LmdbEnv::Commit commit;
  journal::StateStep state;
  Step step;  // reached right after the write
};

// Every move, in enum order.
const std::vector<MoveRule>& move_table();
const MoveRule& rule_of(Move move);

// The in-flight index rule: every non-terminal state is in flight.
bool in_flight(TxState state);

// Admission check run inside the LMDB write of Move::record, against every in-flight record.
using Admission = std::function<Status(const TxRecord& in_flight)>;

// Inserts `record` (state pending, id assigned) with Move::record's sync, then reaches its
// step. REQUIRES: record.id == 0.
Status record_new(journal::Journal& journal, TxRecord& record, const Admission& admit = {});

// Moves `record` to rule_of(move).to and writes it; on success reaches the move's step. On any
// error the record keeps its previous state. Refused when record.state != rule_of(move).from.
Status advance(journal::Journal& journal, TxRecord& record, Move move);

}  // namespace reftx::core
