// The record state machine (src/core/record_states.hpp): its table, its refusals, and the
// documentation that names the same moves and steps.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/record_states.hpp"
#include "core/steps.hpp"
#include "support/temp_repo.hpp"

using namespace reftx;
using core::Move;

namespace {

journal::Journal open_journal(const std::string& dir) {
  auto j = journal::Journal::open(dir, false, true, 1 << 20);
  REQUIRE(j.ok());
  return std::move(j).value();
}

TxRecord new_record() {
  TxRecord r;
  r.message = "m";
  r.refs.push_back(
      RefRecord{"refs/heads/x", RefOp::update, std::nullopt, kZeroOid, true, std::string(40, 'a')});
  r.keys.push_back(KeyRecord{"k", std::nullopt, false, std::string("v")});
  return r;
}

TxState stored_state(const journal::Journal& j, std::uint64_t id) {
  auto rec = j.get(id);
  REQUIRE(rec.ok());
  return rec.value().state;
}

bool is_in_flight(const journal::Journal& j, std::uint64_t id) {
  auto ids = j.inflight();
  REQUIRE(ids.ok());
  for (std::uint64_t i : ids.value()) {
    if (i == id) return true;
  }
  return false;
}

std::string sync_name(journal::LmdbEnv::Commit c) {
  return c == journal::LmdbEnv::Commit::durable ? "durable" : "lazy";
}

std::string state_step_name(journal::StateStep s) {
  switch (s) {
    case journal::StateStep::none:
      return "-";
    case journal::StateStep::observe:
      return "observe";
    case journal::StateStep::apply:
      return "apply";
    case journal::StateStep::revert:
      return "revert";
  }
  return "?";
}

// Rows "| `move` | from | to | sync | state | `step` |" of docs/protocol.md.
std::vector<std::string> documented_moves() {
  const char* root = std::getenv("REFTX_SOURCE_DIR");
  REQUIRE(root != nullptr);
  std::ifstream doc(std::string(root) + "/docs/protocol.md");
  REQUIRE(doc.good());
  std::vector<std::string> rows;
  for (std::string line; std::getline(doc, line);) {
    if (!line.starts_with("| `")) continue;
    std::vector<std::string> cells;
    std::stringstream in(line.substr(1));
    for (std::string cell; std::getline(in, cell, '|');) {
      while (!cell.empty() && cell.front() == ' ') cell.erase(0, 1);
      while (!cell.empty() && cell.back() == ' ') cell.pop_back();
      cells.push_back(cell);
    }
    if (cells.size() >= 6 && cells[5].starts_with("`") && cells[5].find('.') != std::string::npos) {
      rows.push_back(cells[0] + "|" + cells[1] + "|" + cells[2] + "|" + cells[3] + "|" + cells[4] +
                     "|" + cells[5]);
    }
  }
  return rows;
}

}  // namespace

TEST_CASE("the move table is in enum order and every move ends in a crash-point step") {
  const auto& table = core::move_table();
  REQUIRE(table.size() == 8);
  std::set<std::string_view> names(core::crash_point_names().begin(),
                                   core::crash_point_names().end());
  for (std::size_t i = 0; i < table.size(); ++i) {
    CHECK(static_cast<std::size_t>(table[i].move) == i);
    CHECK(&core::rule_of(table[i].move) == &table[i]);
    CHECK(names.count(core::step_name(table[i].step)) == 1);
    CHECK(table[i].from != table[i].to);
  }
  // Only the record move starts outside the journal.
  CHECK(!core::rule_of(Move::record).from.has_value());
  for (const auto& rule : table) CHECK((rule.move == Move::record) != rule.from.has_value());
}

TEST_CASE("the step list is the crash-point list, one name per step, in order") {
  const auto& names = core::crash_point_names();
  REQUIRE(names.size() == 17);
  for (std::size_t i = 0; i < names.size(); ++i) {
    CHECK(core::step_name(static_cast<core::Step>(i)) == names[i]);
  }
  CHECK(std::set<std::string_view>(names.begin(), names.end()).size() == names.size());
}

TEST_CASE("the in-flight rule: exactly the non-terminal states") {
  CHECK(core::in_flight(TxState::pending));
  CHECK(core::in_flight(TxState::committing));
  CHECK(core::in_flight(TxState::rolling_back));
  CHECK_FALSE(core::in_flight(TxState::committed));
  CHECK_FALSE(core::in_flight(TxState::aborted));
}

TEST_CASE("a commit's moves write the record, the tool state and the in-flight index") {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  TxRecord rec = new_record();
  REQUIRE(core::record_new(j, rec).ok());
  CHECK(rec.id == 1);
  CHECK(stored_state(j, rec.id) == TxState::pending);
  CHECK(is_in_flight(j, rec.id));
  REQUIRE(core::advance(j, rec, Move::decide).ok());
  CHECK(stored_state(j, rec.id) == TxState::committing);
  auto value = j.get_state("k");
  REQUIRE(value.ok());
  CHECK(value.value() == std::optional<std::string>("v"));  // applied by the decision
  CHECK(rec.keys[0].old_known);
  REQUIRE(core::advance(j, rec, Move::finish).ok());
  CHECK(stored_state(j, rec.id) == TxState::committed);
  CHECK_FALSE(is_in_flight(j, rec.id));
}

TEST_CASE("a move from the wrong state is refused and writes nothing") {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  TxRecord rec = new_record();
  REQUIRE(core::record_new(j, rec).ok());
  SUBCASE("finish before the decision") {
    Status s = core::advance(j, rec, Move::finish);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().kind == ErrorKind::invalid_input);
    CHECK(s.error().message.find("'finish'") != std::string::npos);
    CHECK(s.error().message.find("'pending'") != std::string::npos);
    CHECK(rec.state == TxState::pending);
    CHECK(stored_state(j, rec.id) == TxState::pending);
  }
  SUBCASE("every move out of a terminal state") {
    REQUIRE(core::advance(j, rec, Move::abort).ok());
    for (const auto& rule : core::move_table()) {
      if (!rule.from) continue;
      CAPTURE(rule.name);
      CHECK_FALSE(core::advance(j, rec, rule.move).ok());
      CHECK(stored_state(j, rec.id) == TxState::aborted);
    }
    CHECK_FALSE(is_in_flight(j, rec.id));
  }
  SUBCASE("deciding twice, compensating a pending record, recording a recorded one") {
    REQUIRE(core::advance(j, rec, Move::decide).ok());
    CHECK_FALSE(core::advance(j, rec, Move::decide).ok());
    TxRecord other = new_record();
    REQUIRE(core::record_new(j, other).ok());
    CHECK_FALSE(core::advance(j, other, Move::compensate).ok());
    CHECK_FALSE(core::advance(j, other, Move::roll_back).ok());
    CHECK_FALSE(core::record_new(j, other).ok());
    CHECK(stored_state(j, other.id) == TxState::pending);
  }
}

TEST_CASE("a roll back puts the tool state back in the write that records it aborted") {
  test::TempDir dir;
  auto j = open_journal(dir.path());
  TxRecord rec = new_record();
  REQUIRE(core::record_new(j, rec).ok());
  REQUIRE(core::advance(j, rec, Move::decide).ok());
  REQUIRE(core::advance(j, rec, Move::compensate).ok());
  CHECK(stored_state(j, rec.id) == TxState::rolling_back);
  CHECK(is_in_flight(j, rec.id));
  REQUIRE(core::advance(j, rec, Move::roll_back).ok());
  CHECK(stored_state(j, rec.id) == TxState::aborted);
  auto value = j.get_state("k");
  REQUIRE(value.ok());
  CHECK_FALSE(value.value().has_value());
}

TEST_CASE("docs/protocol.md's move table is the code's, row by row") {
  std::vector<std::string> from_code;
  for (const auto& rule : core::move_table()) {
    from_code.push_back("`" + std::string(rule.name) + "`|" +
                        (rule.from ? to_string(*rule.from) : std::string("(new)")) + "|" +
                        to_string(rule.to) + "|" + sync_name(rule.commit) + "|" +
                        state_step_name(rule.state) + "|`" +
                        std::string(core::step_name(rule.step)) + "`");
  }
  CHECK(documented_moves() == from_code);
}
