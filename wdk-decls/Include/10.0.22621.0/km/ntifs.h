/* ferrofilter's declarations of the ntifs.h items it uses (x64), from the WDK documentation of
   extra create parameters. */
#pragma once
#include "ntddk.h"

typedef struct _ECP_LIST ECP_LIST, *PECP_LIST;
typedef struct _FILE_NAMES_INFORMATION *PFILE_NAMES_INFORMATION;
