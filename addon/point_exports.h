// A point named by its state, as JS describes it (point_exports.cc): read by
// reachPoint and by a debug run that runs the stretch before a point itself.
#pragma once
#include <napi.h>

#include "replay_points.h"

namespace rw {

bool pointSearchFrom(Napi::Object o, PointSearch& p);

}  // namespace rw
