#include "core/record_states.hpp"

#include <string>

#include "util/fs.hpp"

namespace reftx::core {
namespace {

using Commit = journal::LmdbEnv::Commit;
using journal::StateStep;

// Why each sync choice is safe (docs/protocol.md, "Durability"):
// - pending must be durable before git creates (fsynced) lock files, or a power loss could
//   leave locks nobody can attribute; committing is the decision and must be durable before
//   `commit` is sent; rolling_back must be durable before any ref is moved back.
// - The commit path's terminal writes are lazy: losing one is harmless, recovery recreates it
//   from the durable pending or committing record.
// - Recovery's terminal writes are synced: recovery then removes the dead owner's files, and a
//   power loss must not bring back a non-terminal record without its owner's witnesses.
const std::vector<MoveRule> kTable = {
    {Move::record, "record", std::nullopt, TxState::pending, Commit::durable, StateStep::none,
     Step::apply_recorded},
    {Move::decide, "decide", TxState::pending, TxState::committing, Commit::durable,
     StateStep::apply, Step::apply_decided},
    {Move::finish, "finish", TxState::committing, TxState::committed, Commit::lazy, StateStep::none,
     Step::apply_committed},
    {Move::abort, "abort", TxState::pending, TxState::aborted, Commit::lazy, StateStep::observe,
     Step::abort_aborted},
    {Move::compensate, "compensate", TxState::committing, TxState::rolling_back, Commit::durable,
     StateStep::none, Step::abort_git_refused},
    {Move::roll_back_undecided, "roll-back-undecided", TxState::pending, TxState::aborted,
     Commit::durable, StateStep::observe, Step::recover_recorded},
    {Move::roll_forward, "roll-forward", TxState::committing, TxState::committed, Commit::durable,
     StateStep::none, Step::recover_recorded},
    {Move::roll_back, "roll-back", TxState::rolling_back, TxState::aborted, Commit::durable,
     StateStep::revert, Step::recover_recorded},
};

Error refused(const MoveRule& rule, const TxRecord& record) {
  return Error{ErrorKind::invalid_input, "record state machine: move '" + std::string(rule.name) +
                                             "' of transaction " + std::to_string(record.id) +
                                             " from state '" + to_string(record.state) +
                                             "' is not allowed"};
}

}  // namespace

const std::vector<MoveRule>& move_table() {
  return kTable;
}

const MoveRule& rule_of(Move move) {
  return kTable[static_cast<std::size_t>(move)];
}

bool in_flight(TxState state) {
  return state != TxState::committed && state != TxState::aborted;
}

Status record_new(journal::Journal& journal, TxRecord& record, const Admission& admit) {
  const MoveRule& rule = rule_of(Move::record);
  if (record.id != 0) return refused(rule, record);
  record.state = rule.to;
  record.updated_ns = util::now_ns();
  if (Status s = journal.insert(record, admit); !s) return s;
  reach(rule.step);
  return {};
}

Status advance(journal::Journal& journal, TxRecord& record, Move move) {
  const MoveRule& rule = rule_of(move);
  if (!rule.from || record.state != *rule.from) return refused(rule, record);
  const TxState before = record.state;
  record.state = rule.to;
  record.updated_ns = util::now_ns();
  if (Status s = journal.put(record, {in_flight(rule.to), rule.commit, rule.state}); !s) {
    record.state = before;
    return s;
  }
  reach(rule.step);
  return {};
}

}  // namespace reftx::core
