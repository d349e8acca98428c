{
  # The native kernel set (native/*.cc) as the addon build/Release/lms_kernels.node.
  # scripts/detect-blas.cjs decides between OpenBLAS (defines LMS_HAVE_CBLAS,
  # links -lopenblas) and the portable blocked GEMM (prints nothing), so a
  # machine without OpenBLAS still builds. LMS_NO_BLAS=1 forces portable.
  "targets": [
    {
      "target_name": "lms_kernels",
      "sources": [
        "native/addon.cc",
        "native/gemm.cc",
        "native/gemm_portable.cc",
        "native/kernels.cc",
        "native/pool.cc",
        "native/vmath.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/detect-blas.cjs include_dirs)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "<!@(node scripts/detect-blas.cjs defines)"
      ],
      "libraries": ["<!@(node scripts/detect-blas.cjs libraries)"],
      # node-addon-api throws C++ exceptions that it turns into JS ones.
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-fno-math-errno", "-fno-trapping-math"],
      "conditions": [
        # A portable x86-64 baseline (x86-64-v2: SSE4.2, POPCNT); hot loops add
        # AVX2 / AVX-512 clones selected at run time, never -march=native.
        ["target_arch=='x64' and OS!='win'", {"cflags_cc": ["-msse4.2", "-mpopcnt"]}],
        ["OS=='mac'", {
          "xcode_settings": {
            "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
            "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
            "OTHER_CPLUSPLUSFLAGS": ["-O3", "-fno-math-errno", "-fno-trapping-math"]
          }
        }],
        ["OS=='win'", {
          "defines": ["_HAS_EXCEPTIONS=1"],
          "msvs_settings": {"VCCLCompilerTool": {"ExceptionHandling": 1}}
        }]
      ]
    }
  ]
}
