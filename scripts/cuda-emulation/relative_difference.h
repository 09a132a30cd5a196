#pragma once
// The relative difference ‖a − b‖ / ‖b‖ (accumulated in double) that the comparison programs print.
#include <cmath>
#include <vector>
using V = std::vector<float>;
static double rel(const V& a, const V& b) { double n = 0, d = 0; for (size_t i = 0; i < a.size(); i++) { n += (a[i]-b[i])*(double)(a[i]-b[i]); d += (double)b[i]*b[i]; } return std::sqrt(n / (d + 1e-30)); }
