/* ferrofilter's declarations of ntddk.h: everything it uses is in wdm.h. */
#pragma once
#include "wdm.h"
