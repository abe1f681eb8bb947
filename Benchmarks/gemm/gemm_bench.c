// Single-core GEMM throughput: xlate's packed kernel (Sources/CKernels) against OpenBLAS cblas_sgemm + bias, on the
// bundled en-de model's shapes (m rows × k inputs · k × n outputs). Build and run from the repository root:
//   clang -O2 -ISources/CKernels/include Benchmarks/gemm/gemm_bench.c Sources/CKernels/kernels.c \
//     -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas -lm -o /tmp/gemm-bench
//   OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 /tmp/gemm-bench
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <math.h>
#include <cblas.h>
#include "ckernels.h"
static double now() { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
int main() {
    int shapes[][3] = {{128,384,16000},{128,384,1152},{128,384,1536},{128,1536,384},{16,384,16000},{4,384,16000},{960,384,1152},{960,1536,384}};
    for (int s = 0; s < 8; s++) {
        int m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        float *x = malloc(sizeof(float)*m*k), *w = malloc(sizeof(float)*n*k), *b = malloc(sizeof(float)*n);
        float *y1 = malloc(sizeof(float)*m*n), *y2 = malloc(sizeof(float)*m*n);
        float *p = aligned_alloc(64, xk_packed_size(n,k)*sizeof(float));
        for (long i=0;i<(long)m*k;i++) x[i]=rand()/(float)RAND_MAX-0.5f;
        for (long i=0;i<(long)n*k;i++) w[i]=rand()/(float)RAND_MAX-0.5f;
        for (int i=0;i<n;i++) b[i]=rand()/(float)RAND_MAX;
        xk_pack_weight(w,n,k,p);
        int reps = (int)(2e9 / (2.0*m*n*k)) + 1;
        double t0=now(); for(int r=0;r<reps;r++){ cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasTrans,m,n,k,1,x,k,w,k,0,y1,n); for(long i=0;i<(long)m*n;i++) y1[i]+=b[i%n]; }
        double t1=now(); for(int r=0;r<reps;r++) xk_gemm_packed(x,m,k,p,b,n,y2);
        double t2=now();
        double md=0; for(long i=0;i<(long)m*n;i++){double d=fabs(y1[i]-y2[i]); if(d>md)md=d;}
        printf("m=%4d k=%4d n=%5d  openblas %6.1f GF/s  packed %6.1f GF/s  maxdiff %.2e\n", m,k,n, 2.0*m*n*k*reps/(t1-t0)/1e9, 2.0*m*n*k*reps/(t2-t1)/1e9, md);
    }
}
