/* test_summary.c - summary statistics against hand-computed values. */
#include <math.h>

#include "analysis/summary.h"
#include "tests/harness.h"

static void test_known_sample(void)
{
    const double x[] = {9, 1, 5, 3, 7}; /* sorted: 1 3 5 7 9 */
    double scratch[5];
    summary s;
    summary_of(&s, x, 5, scratch);
    CU_ASSERT_EQUAL(s.n, 5);
    CU_ASSERT_DOUBLE_EQUAL(s.mean, 5.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(s.sd, sqrt(10.0), 1e-12); /* sum sq dev 40 / 4 */
    CU_ASSERT_DOUBLE_EQUAL(s.median, 5.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(s.min, 1.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(s.max, 9.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(s.q25, 3.0, 1e-12); /* (n-1) q = 1 -> sorted[1] */
    CU_ASSERT_DOUBLE_EQUAL(s.q95, 8.6, 1e-12); /* 3.8 -> 7 + 0.8 * 2 */
    CU_ASSERT_EQUAL(x[0], 9);                   /* input untouched */
    const double even[] = {4, 1, 3, 2};
    summary_of(&s, even, 4, scratch);
    CU_ASSERT_DOUBLE_EQUAL(s.median, 2.5, 1e-12);
    summary_of(&s, even, 0, scratch);
    CU_ASSERT_EQUAL(s.n, 0);
    CU_ASSERT_EQUAL(s.mean, 0);
    summary_of(&s, even, 1, scratch);
    CU_ASSERT_EQUAL(s.sd, 0);
    CU_ASSERT_EQUAL(s.median, 4);
}

int main(void)
{
    static const harness_test all[] = {{"summary of a known sample", test_known_sample},
                                       {NULL, NULL}};
    return harness_run("summary", all);
}
