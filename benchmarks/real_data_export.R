# Count matrices with known labels, shipped as R data by public R packages, written as
# csv.gz (genes x cells, raw integer counts) and metadata csv.gz for
# benchmarks/real_data.py (data sets sc_10x, sc_10x_5cl, hashing_4cl, mesc_3media,
# pbmc_sorted, mesc_cycle, mesc_mef, seqc_bulk, cimseq_sorted, pollen_4origins,
# blood_sorted, treg_tconv).
#
# Needs R with SingleCellExperiment (Debian: r-base-core, r-bioc-singlecellexperiment).
# Run from a folder that holds the packages' .rda files and sc_mixology's metadata:
#
#   cepo/cellbench.rda            PYangLab/Cepo @48144fb, data/cellbench.rda (MIT)
#   plnmodels/scRNA.rda           PLN-team/PLNmodels @7ca4090, data/scRNA.rda (GPL >= 3)
#   scds/sce_chcl.rda             kostkalab/scds @c9054c2, data/sce_chcl.rda (MIT)
#   scmerge/example_sce.rda       SydneyBioX/scMerge @5a7696f, data/example_sce.rda (GPL-3)
#   fasttopics/pbmc_facs.RData    stephenslab/fastTopics @8406f5f, data/pbmc_facs.RData (BSD-2)
#   cyclemix/Ex.rda               tallulandrews/CycleMix @624cdf8, data/Ex.rda (GPL-3)
#   linnorm/Islam2011.rda         bioc/Linnorm @5c4a716, data/Islam2011.rda (MIT)
#   seqc/ILM_refseq_gene_COH.rda  bioc/seqc @301ac11, data/ILM_refseq_gene_COH.rda (GPL-3)
#   cimseq/countsSorted2.rda      jasonserviss/CIMseq-data @37ae6f8, data/countsSorted2.rda
#                                 (GPL-3; absent from later commits)
#   scde/pollen.rda               hms-dbmi/scde @37859b8, data/pollen.rda (GPL-2)
#   deconvseq/data_celltypes_rnaseq.rda, deconvseq/data_scrnaseq.rda
#                                 rosedu1/deconvSeq @dc7dfdc, data/ (GPL-3)
#   sc_mixology_extra/sc_10x_5cl.metadata.csv.gz
#                                 LuyiTian/sc_mixology, data/csv/ (MIT): demuxlet calls
#
# (`git show <commit>:data/<file>` in a clone of each repository), then
#
#   Rscript benchmarks/real_data_export.R
#   python benchmarks/real_data.py prepare --source . --out <cache>/h5ad \
#       --datasets sc_10x sc_10x_5cl hashing_4cl mesc_3media pbmc_sorted mesc_cycle mesc_mef \
#       seqc_bulk cimseq_sorted pollen_4origins blood_sorted treg_tconv

suppressMessages({
    library(SingleCellExperiment)
    library(Matrix)
})

write_counts <- function(counts, file) {
    connection <- gzfile(file, "w")
    write.csv(as.matrix(counts), connection, quote = FALSE)
    close(connection)
}

write_metadata <- function(frame, file, row.names = TRUE) {
    connection <- gzfile(file, "w")
    write.csv(frame, connection, row.names = row.names)
    close(connection)
}

# CellBench sc_10x (Tian et al. 2019): three lung adenocarcinoma lines on 10x, demuxlet
# labels; a gene subset of the original.
load("cepo/cellbench.rda")
write_counts(counts(cellbench), "cepo/cellbench_sc10x.counts.csv.gz")
write_metadata(as.data.frame(colData(cellbench)), "cepo/cellbench_sc10x.metadata.csv.gz")

# CellBench sc_10x_5cl: five lines on 10x, 500 genes; the package keeps cell_line but not
# demuxlet's singlet call, which comes from sc_mixology's metadata (same cell names).
load("plnmodels/scRNA.rda")
counts_5cl <- t(scRNA$counts)
demuxlet <- read.csv("sc_mixology_extra/sc_10x_5cl.metadata.csv.gz", row.names = 1)
write_counts(counts_5cl, "plnmodels/scRNA_sc10x5cl_500genes.counts.csv.gz")
write_metadata(data.frame(cell = colnames(counts_5cl), cell_line = scRNA$cell_line,
                          total_counts = scRNA$total_counts,
                          demuxlet[colnames(counts_5cl), c("cell_line_demuxlet", "demuxlet_cls")]),
               "plnmodels/scRNA_sc10x5cl.metadata.csv.gz", row.names = FALSE)

# Cell hashing (Stoeckius et al. 2018, GSE108313): HEK293, K562, KG1 and THP1, three
# hashtags each; 2,000 random genes x 2,000 cells.
load("scds/sce_chcl.rda")
write_counts(counts(sce_chcl), "scds/sce_chcl.counts.csv.gz")
write_metadata(as.data.frame(colData(sce_chcl)), "scds/sce_chcl.metadata.csv.gz")

# Mouse ES cells in three culture media (Kolodziejczyk et al. 2015, E-MTAB-2600), two
# batches; Fluidigm C1 read counts.
load("scmerge/example_sce.rda")
write_counts(counts(example_sce), "scmerge/example_sce_mESC.counts.csv.gz")
write_metadata(as.data.frame(colData(example_sce)), "scmerge/example_sce_mESC.metadata.csv.gz")

# Blood cells sorted with antibody beads (Zheng et al. 2017, 10x, one run per sorted
# population; fastTopics' pbmc_facs): 10 populations in 5 groups (subpop: B, CD14+
# monocytes, CD34+, NK, T cells). The package's own topic-model fit is not read.
load("fasttopics/pbmc_facs.RData")
counts_facs <- t(pbmc_facs$counts)  # genes x cells
write_counts(counts_facs, "fasttopics/pbmc_facs.counts.csv.gz")
samples_facs <- data.frame(pbmc_facs$samples, row.names = colnames(counts_facs))
write_metadata(samples_facs, "fasttopics/pbmc_facs.metadata.csv.gz")

# Mouse ES cells sorted by DNA content into G1, S and G2/M (Buettner et al. 2015,
# E-MTAB-2805; CycleMix's Ex, the author's 2,002 genes): read counts.
load("cyclemix/Ex.rda")
write_counts(counts(Ex), "cyclemix/Ex.counts.csv.gz")
write_metadata(as.data.frame(colData(Ex)), "cyclemix/Ex.metadata.csv.gz")

# Mouse ES cells and embryonic fibroblasts (Islam et al. 2011, Genome Research 21:1160,
# GEO GSE29087; Linnorm's Islam2011): STRT-seq read counts of one 96-well plate, wells
# in column order; the package documents the first 48 as ES cells, the next 44 as
# fibroblasts and the last 4 as negative controls (their reads are 67-95% spike-in).
# The fraction of a well's reads from the RNA spike-ins (RNA_SPIKE_*) is kept as a
# technical axis before real_data.py drops those rows.
load("linnorm/Islam2011.rda")
spike_rows <- grepl("^RNA_SPIKE_", rownames(Islam2011))
write_counts(Islam2011, "linnorm/Islam2011.counts.csv.gz")
write_metadata(data.frame(cell = colnames(Islam2011),
                          cell_type = c(rep("ES", 48), rep("MEF", 44), rep("none", 4)),
                          well = ifelse(seq_len(ncol(Islam2011)) <= 92, "cell", "negative_control"),
                          spike_fraction = colSums(Islam2011[spike_rows, ]) / colSums(Islam2011)),
               "linnorm/Islam2011.metadata.csv.gz", row.names = FALSE)

# SEQC/MAQC-III (SEQC/MAQC-III Consortium 2014, Nature Biotechnology 32:903, GEO GSE47792),
# Illumina HiSeq at one site (COH), RefSeq gene counts: A = universal human reference RNA
# (UHRR), B = human brain reference RNA (HBRR), C = 3 A : 1 B, D = 1 A : 3 B by RNA mass;
# 4 libraries per sample, each on 8 lanes (columns <group>_<library>_<lane>_<flowcell>).
# Genes by symbol (Entrez ID where none, or where a symbol repeats); ERCC rows left out.
load("seqc/ILM_refseq_gene_COH.rda")
seqc <- ILM_refseq_gene_COH
seqc_counts <- as.matrix(seqc[, -(1:4)])
seqc_genes <- ifelse(is.na(seqc$Symbol) | seqc$Symbol == "", as.character(seqc$EntrezID),
                     as.character(seqc$Symbol))
repeated <- duplicated(seqc_genes) | duplicated(seqc_genes, fromLast = TRUE)
seqc_genes[repeated] <- paste0(seqc_genes, "|", seqc$EntrezID)[repeated]
rownames(seqc_counts) <- seqc_genes
seqc_counts <- seqc_counts[!seqc$IsERCC, ]
fields <- do.call(rbind, strsplit(colnames(seqc_counts), "_"))
write_counts(seqc_counts, "seqc/seqc_coh_bulk.counts.csv.gz")
write_metadata(data.frame(sample = colnames(seqc_counts), sample_group = fields[, 1],
                          frac_UHRR = c(A = 1, B = 0, C = 0.75, D = 0.25)[fields[, 1]],
                          frac_HBRR = c(A = 0, B = 1, C = 0.25, D = 0.75)[fields[, 1]],
                          library = paste0(fields[, 1], "_", fields[, 2]),
                          lane = fields[, 3], flowcell = fields[, 4]),
               "seqc/seqc_coh_bulk.metadata.csv.gz", row.names = FALSE)

# CIM-seq's sorted cell lines (Andrews et al. 2021, Nature Methods 18:912; experiment 2 of
# CIMseq-data): A375, HCT116 and HOS sorted into wells singly and as 2-4 cells of known
# make-up (cellTypes "A375-HOS-HOS"); the fraction of each line's cells per well.
load("cimseq/countsSorted2.rda")
cim_meta <- as.data.frame(countsSortedMeta2)
cim_meta <- cim_meta[match(colnames(countsSorted2), cim_meta$sample), ]
stopifnot(identical(cim_meta$sample, colnames(countsSorted2)))
lines_per_well <- strsplit(cim_meta$cellTypes, "-")
fractions <- t(sapply(lines_per_well, function(v)
    table(factor(v, levels = c("A375", "HCT116", "HOS"))) / length(v)))
write_counts(countsSorted2, "cimseq/cimseq_sorted_celllines.counts.csv.gz")
write_metadata(data.frame(sample = cim_meta$sample, cellTypes = cim_meta$cellTypes,
                          cellNumber = cim_meta$cellNumber,
                          n_cells_sorted = lengths(lines_per_well),
                          frac_A375 = fractions[, 1], frac_HCT116 = fractions[, 2],
                          frac_HOS = fractions[, 3], plate = cim_meta$plate),
               "cimseq/cimseq_sorted_celllines.metadata.csv.gz", row.names = FALSE)

# Pollen et al. (2014), Nature Biotechnology 32:1053, SRA SRP041736: the high-coverage
# Fluidigm C1 cells of scde's data, named Hi_<condition>_<n> (GW16, GW21, GW21+3, NPC).
load("scde/pollen.rda")
pollen_counts <- as.matrix(pollen)
write_counts(pollen_counts, "scde/pollen2014_hi.counts.csv.gz")
write_metadata(data.frame(sample = colnames(pollen_counts),
                          condition = sub("^Hi_(.*)_[0-9]+$", "\\1", colnames(pollen_counts))),
               "scde/pollen2014_hi.metadata.csv.gz", row.names = FALSE)

# deconvSeq's blood cell types (Du, Carey & Weiss 2019, Bioinformatics 35:5095,
# doi:10.1093/bioinformatics/btz444): bulk RNA-seq read counts of B cells, T cells,
# monocytes and granulocytes, each sorted from blood (SRA SRR1022945-SRR1023003; eight of
# the granulocyte libraries from Blueprint, EGA), 500 genes of the package's choosing;
# the cell type from the package's design matrix, the study from the run accession.
# (The package's whole-blood libraries are left out: their known make-up is a count of
# cells, lymphocytes not split into B and T.)
load("deconvseq/data_celltypes_rnaseq.rda")
stopifnot(all(rowSums(design.rnaseq) == 1))  # one cell type per library
blood_type <- sub("^tissuef", "",
                  colnames(design.rnaseq)[max.col(design.rnaseq, ties.method = "first")])
stopifnot(identical(rownames(design.rnaseq), colnames(cnts.celltypes)))
write_counts(cnts.celltypes, "deconvseq/blood_sorted.counts.csv.gz")
write_metadata(data.frame(sample = colnames(cnts.celltypes), cell_type = blood_type,
                          study = ifelse(startsWith(colnames(cnts.celltypes), "EGAR"),
                                         "EGA", "SRA")),
               "deconvseq/blood_sorted.metadata.csv.gz", row.names = FALSE)

# deconvSeq's single T cells (the same package): regulatory (HuTreg) and conventional
# (HuTconv) T cells sorted apart, fresh or after freezing (HuTregFresh_rep1_<n>,
# HuTconvFroz_rep1_<n>, ...), UMI counts of 3,439 genes (cnts.scrnaseq, before the
# package's own filtering).
load("deconvseq/data_scrnaseq.rda")
t_names <- colnames(cnts.scrnaseq)
write_counts(cnts.scrnaseq, "deconvseq/treg_tconv.counts.csv.gz")
write_metadata(data.frame(cell = t_names,
                          cell_type = ifelse(startsWith(t_names, "HuTreg"), "Treg", "Tconv"),
                          prep = ifelse(grepl("Fresh", t_names), "fresh", "frozen")),
               "deconvseq/treg_tconv.metadata.csv.gz", row.names = FALSE)
