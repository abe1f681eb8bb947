// libxml2's HTML parser and tree (Debian: libxml2-dev; pkg-config libxml-2.0).
#include <libxml/xmlversion.h>
// Debian builds libxml2 with ICU, whose headers then come in through encoding.h. Foundation carries its own copy
// of ICU's headers (_FoundationICU) with a different UErrorCode, and a module that sees both fails to compile
// ("'UErrorCode' has different definitions in different modules"). xlate uses no ICU type: the only ICU fields
// are the two last members of xmlCharEncodingHandler, which xlate never allocates or reads.
#undef LIBXML_ICU_ENABLED
#include <libxml/HTMLparser.h>
#include <libxml/HTMLtree.h>
#include <libxml/tree.h>
