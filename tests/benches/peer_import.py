"""The CSV benchmark's peer: a plain importer written the way AWS samples
write one -- csv.DictReader over the file, one item per row, boto3's
batch_writer (25 items a call, unprocessed items retried by boto3).
No checks, no cutoff, no lock, no report: only the writes.

    peer_import.py ENDPOINT TABLE FILE   ->  prints "rows seconds"
"""

import csv
import sys
import time

import boto3

FIELDS = {
    "身分證字號": "id_no", "姓名": "name", "出生日期": "birth_date",
    "服務機關代碼": "org_code", "服務機關名稱": "org_name",
    "課程代碼": "course_code", "課程名稱": "course_name",
    "課程類別代碼": "category_code", "學習機構": "provider", "期別": "term",
    "開課起始日期": "start_date", "開課結束日期": "end_date",
    "學習性質": "mode", "數位時數": "digital_hours", "實體時數": "physical_hours",
    "認證時數": "total_hours", "學習資料狀態": "status", "通過日期": "passed_date",
    "異動日期": "changed_date",
}


def main(endpoint, table_name, path):
    dynamodb = boto3.resource(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="ap-northeast-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    table = dynamodb.Table(table_name)
    started = time.monotonic()
    rows = 0
    with open(path, encoding="utf-8-sig", newline="") as f, table.batch_writer() as batch:
        for row in csv.DictReader(f):
            item = {FIELDS[k]: v for k, v in row.items() if k in FIELDS and v}
            item["pk"] = "PERSON#" + item["id_no"]
            item["sk"] = "REC#%s#%04d#%s" % (item["course_code"], int(item["term"]), item["start_date"])
            batch.put_item(Item=item)
            rows += 1
    print(rows, time.monotonic() - started)


if __name__ == "__main__":
    main(*sys.argv[1:4])
