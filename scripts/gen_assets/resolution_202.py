"""Registered population and natural area of the 34 provinces formed on 1 July 2025.

Source: Resolution No. 202/2025/QH15 of the National Assembly on the reorganisation of
provincial-level administrative units (Nghị quyết 202/2025/QH15 về việc sắp xếp đơn vị hành chính
cấp tỉnh), passed 12 June 2025, in force on passage; local governments of the new provinces
operate from 1 July 2025. A public legal document; the figures are facts, not a licensed work.

- The 23 merged provinces: Article 1 of the Resolution states, for each, "diện tích tự nhiên ...
  km², quy mô dân số ... người" (natural area, registered population). Copied as stated.
- The 11 provinces that were not merged (Hà Nội, Huế, Cao Bằng, Điện Biên, Hà Tĩnh, Lai Châu,
  Lạng Sơn, Nghệ An, Quảng Ninh, Thanh Hóa, Sơn La) are only named in the Resolution, without
  figures. Their figures are the ones published with the same reform (the Government's scheme
  behind Statement 486/TTr-CP, shown on the official merger map of the mapping agency,
  sapnhap.bando.com.vn), on the same basis (registered population, natural area).

Cross-checks done by gen-assets (it fails if one does not hold):
- 34 rows, one per code of the 2025 provinces in vietnamadminunits;
- smallest population Lai Châu 512,601; largest Hồ Chí Minh 14,002,598;
- areas add up to exactly 331,325.62 km²;
- populations add up to 113,571,926. NOTE: the project's shared/DATA.md quotes 113,572,156, which
  is 230 more than the sum of the published per-province figures; no published set of per-province
  figures that adds up to that total was found, so the check uses the sum of the figures below
  and the script prints the difference.
"""

# code (2-digit, 2025), short name (for readability only; the name written to the CSV comes from
# the registry package), registered population, natural area in km² (2 decimals, as published).
PROVINCES_2025 = [
    ("01", "Hà Nội", 8_807_523, "3359.84"),
    ("04", "Cao Bằng", 573_119, "6700.39"),
    ("08", "Tuyên Quang", 1_865_270, "13795.50"),
    ("11", "Điện Biên", 673_091, "9539.93"),
    ("12", "Lai Châu", 512_601, "9068.73"),
    ("14", "Sơn La", 1_404_587, "14108.89"),
    ("15", "Lào Cai", 1_778_785, "13256.92"),
    ("19", "Thái Nguyên", 1_799_489, "8375.21"),
    ("20", "Lạng Sơn", 881_384, "8310.18"),
    ("22", "Quảng Ninh", 1_497_447, "6207.95"),
    ("24", "Bắc Ninh", 3_619_433, "4718.60"),
    ("25", "Phú Thọ", 4_022_638, "9361.38"),
    ("31", "Hải Phòng", 4_664_124, "3194.72"),
    ("33", "Hưng Yên", 3_567_943, "2514.81"),
    ("37", "Ninh Bình", 4_412_264, "3942.62"),
    ("38", "Thanh Hóa", 4_324_783, "11114.71"),
    ("40", "Nghệ An", 3_831_694, "16486.50"),
    ("42", "Hà Tĩnh", 1_622_901, "5994.45"),
    ("44", "Quảng Trị", 1_870_845, "12700.00"),
    ("46", "Huế", 1_432_986, "4947.11"),
    ("48", "Đà Nẵng", 3_065_628, "11859.59"),
    ("51", "Quảng Ngãi", 2_161_755, "14832.55"),
    ("52", "Gia Lai", 3_583_693, "21576.53"),
    ("56", "Khánh Hòa", 2_243_554, "8555.86"),
    ("66", "Đắk Lắk", 3_346_853, "18096.40"),
    ("68", "Lâm Đồng", 3_872_999, "24233.07"),
    ("75", "Đồng Nai", 4_491_408, "12737.18"),
    ("79", "Hồ Chí Minh", 14_002_598, "6772.59"),
    ("80", "Tây Ninh", 3_254_170, "8536.44"),
    ("82", "Đồng Tháp", 4_370_046, "5938.64"),
    ("86", "Vĩnh Long", 4_257_581, "6296.20"),
    ("91", "An Giang", 4_952_238, "9888.91"),
    ("92", "Cần Thơ", 4_199_824, "6360.83"),
    ("96", "Cà Mau", 2_606_672, "7942.39"),
]

# The 11 provinces whose figures do not come from Article 1 (see above).
UNCHANGED = {"01", "04", "11", "12", "14", "20", "22", "38", "40", "42", "46"}

EXPECTED_POPULATION_TOTAL = 113_571_926
DATA_MD_POPULATION_TOTAL = 113_572_156  # as quoted in shared/DATA.md; see the note above
EXPECTED_AREA_TOTAL_HUNDREDTHS = 33_132_562  # 331,325.62 km²
EXPECTED_MIN = ("12", 512_601)  # Lai Châu
EXPECTED_MAX = ("79", 14_002_598)  # Hồ Chí Minh
