// Whole steps of prefill rows for the AMX and lookup-table paths of ternary_matmul.
#include "codegen/CPU/TernaryPrefill.h"
#include "codegen/CPU/KernelBuilder.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

namespace tern::cpu {

using namespace mlir;

Value emitWholeRowSteps(ImplicitLocOpBuilder &b, Value rows, int64_t step,
                        const std::function<void(ImplicitLocOpBuilder &, Value)> &steps) {
  Value stepValue = constIndex(b, step);
  Value stepRows =
      arith::MulIOp::create(b, arith::DivUIOp::create(b, rows, stepValue), stepValue);
  Value any = arith::CmpIOp::create(b, arith::CmpIPredicate::ugt, stepRows, constIndex(b, 0));
  scf::IfOp::create(b, any, [&](OpBuilder &nested, Location loc) {
    ImplicitLocOpBuilder ib(loc, nested);
    steps(ib, stepRows);
    scf::YieldOp::create(ib);
  });
  return stepRows;
}

} // namespace tern::cpu
