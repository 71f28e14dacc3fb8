/* SPDX-License-Identifier: BSD-3-Clause */
/* nvmf-tgtd main. Placeholder: being written. */
int main(void) { return 1; }
