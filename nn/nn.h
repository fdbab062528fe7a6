/* nn.h — henbun's second floor: layers and declarative specs, optimizers, checkpoints,
 * datasets, pictures and progress.  One include for all of it; each section's manual is
 * the header named below, read in this order. */
#ifndef HENBUN_NN_H
#define HENBUN_NN_H

#include "autograd/autograd.h"
#include "nn/error.h"      /* errors from files and text: returned, with the file named */
#include "nn/params.h"     /* named parameter lists */
#include "nn/layer.h"      /* layers, specs (arrays and text), networks */
#include "nn/optim.h"      /* SGD, Adam, AdamW, clipping, schedules */
#include "nn/ema.h"        /* moving averages of parameters (for sampling) */
#include "nn/checkpoint.h" /* atomic, checksummed checkpoints */
#include "nn/safetensors.h" /* weights in and out for PyTorch and NumPy */
#include "nn/data.h"       /* IDX files, datasets, minibatches, binarization */
#include "nn/image.h"      /* PNG grids, line and scatter plots */
#include "nn/complexity.h" /* compressed length of an 8-bit image (Serrà et al.) */
#include "nn/knn.h"        /* k-th nearest-neighbour distances and density estimates */
#include "nn/progress.h"   /* progress bars and CSV logs */

#endif
