// cmark-gfm, GitHub's CommonMark reference parser, with its table extension (Debian: libcmark-gfm-dev,
// libcmark-gfm-extensions-dev; pkg-config libcmark-gfm).
#include <cmark-gfm.h>
#include <cmark-gfm-core-extensions.h>
